"""Run one of the image's commands the way the image would, and report where every product
module and file came from:

    python -S guard.py REPORT IMAGE REPO SITE_PACKAGES -- MODULE|SCRIPT ARGS

`-S` skips site's `.pth` files, and with them the editable install's finder, which would
otherwise quietly import a module missing from IMAGE from the repository. The report lists
each product module loaded and each file opened under REPO (outside its .venv); the test
reads it after the process has exited."""

from __future__ import annotations

import atexit
import importlib.util
import os
import runpy
import sys

report_path, image, repo, site_packages, separator, target, *arguments = sys.argv[1:]
assert separator == "--", "usage: guard.py REPORT IMAGE REPO SITE_PACKAGES -- TARGET ARGS"
GUARD = os.path.abspath(__file__)
VENV = os.path.join(repo, ".venv")
# The image's commands run from WORKDIR with it first on the path: `python -m migrate` and
# `uvicorn` put the working directory there, `python worker.py` the script's folder.
sys.path[:] = [image, *(p for p in sys.path if p and p != os.path.dirname(GUARD)), site_packages]
report = os.open(report_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def say(line: str) -> None:
    # os.write raises no audit event, so the hook below can call it without recursing.
    os.write(report, (line + "\n").encode())


def outside_image(path: str) -> bool:
    path = os.path.abspath(path)
    in_repo = path.startswith(repo + os.sep) and not path.startswith(VENV + os.sep)
    return in_repo and path != GUARD


def on_audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and args and isinstance(args[0], str | bytes):
        path = os.fsdecode(args[0])
        if outside_image(path):
            say(f"opened-outside {os.path.abspath(path)}")


def on_exit() -> None:
    product = set(PRODUCT_NAMES)
    for name, module in sorted(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or name == "__main__":
            continue
        if outside_image(file):
            say(f"imported-outside {name} {file}")
        elif name.split(".")[0] in product:
            where = "image" if os.path.abspath(file).startswith(image + os.sep) else "elsewhere"
            say(f"imported-{where} {name} {file}")
    for finder in sys.meta_path:
        if "editable" in type(finder).__module__ + getattr(finder, "__name__", ""):
            say(f"finder {finder!r}")
    say("exit")


# Every top-level module or package of the repository (not only those the image holds), so a
# module the image lacks but the repository has is named when it is loaded from elsewhere.
PRODUCT_NAMES = sorted(
    entry.removesuffix(".py")
    for entry in os.listdir(repo)
    if not entry.startswith(".")
    and (entry.endswith(".py") or os.path.isdir(os.path.join(repo, entry)))
)
atexit.register(on_exit)
sys.addaudithook(on_audit)
os.chdir(image)
if target.endswith(".py"):
    sys.argv = [os.path.join(image, target), *arguments]
    say(f"main {target} {sys.argv[0]}")
    runpy.run_path(sys.argv[0], run_name="__main__")
else:
    sys.argv = [target, *arguments]
    spec = importlib.util.find_spec(target)
    say(f"main {target} {spec.origin if spec else None}")
    runpy.run_module(target, run_name="__main__", alter_sys=True)
