"""What `docker build` would put in the image, worked out without a Docker daemon: the
Dockerfile's COPY instructions read with the build context filtered by .dockerignore, as
Docker's own pattern matcher does (moby/patternmatcher), and assembled into a folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Copy:
    sources: list[str]
    destination: str  # absolute, in the image
    workdir: str


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped, as Docker does
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        joined.append((keyword.upper(), rest.strip()))
    return joined


def copies(dockerfile: str) -> list[Copy]:
    """The COPY/ADD instructions that read the build context (not `--from=` another stage)."""
    workdir = "/"
    found: list[Copy] = []
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            workdir = "/"
        elif keyword == "WORKDIR":
            workdir = str(PurePosixPath(workdir, rest))
        elif keyword in {"COPY", "ADD"}:
            words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            if any(f.startswith("--from") for f in flags):
                continue
            *sources, destination = paths
            target = PurePosixPath(workdir, destination)
            text = str(target) + ("/" if destination.endswith("/") else "")
            found.append(Copy(sources, text, workdir))
    return found


def final_workdir(dockerfile: str) -> str:
    workdir = "/"
    for keyword, rest in instructions(dockerfile):
        if keyword == "WORKDIR":
            workdir = str(PurePosixPath(workdir, rest))
    return workdir


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's translation: `**` any number of folders, `*` and `?` never cross a `/`."""
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            if pattern.startswith("**/", i):
                out += "(.*/)?"
                i += 3
                continue
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        else:
            out += re.escape(c)
        i += 1
    return re.compile(f"^{out}$")


class DockerIgnore:
    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keep = line.startswith("!")
            cleaned = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
            self.rules.append((keep, _pattern_regex(cleaned)))

    def excludes(self, relative: str) -> bool:
        """True when the path, or a folder above it, matches; the last matching rule wins."""
        parts = relative.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for keep, regex in self.rules:
            if any(regex.match(p) for p in prefixes):
                excluded = not keep
        return excluded


def context_files(root: Path = ROOT) -> list[str]:
    """Every file of the build context, relative, after .dockerignore."""
    ignore_file = root / ".dockerignore"
    ignore = DockerIgnore(ignore_file.read_text() if ignore_file.exists() else "")
    keeps_any = any(keep for keep, _ in ignore.rules)
    files: list[str] = []
    for folder, dirs, names in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        if not keeps_any:
            # Without `!` rules nothing below an excluded folder can come back.
            dirs[:] = [d for d in dirs if not ignore.excludes(prefix + d)]
        files += [prefix + n for n in names if not ignore.excludes(prefix + n)]
    return sorted(files)


def image_files(dockerfile: str, context: list[str]) -> dict[str, str]:
    """Path in the image -> path in the context, for every file the COPY lines bring in."""
    placed: dict[str, str] = {}
    for copy in copies(dockerfile):
        for source in copy.sources:
            pattern = os.path.normpath(source).lstrip("/")
            regex = _pattern_regex(pattern)
            matched = [
                f
                for f in context
                if pattern == "." or regex.fullmatch(f) or f.startswith(pattern + "/")
            ]
            many = len(copy.sources) > 1 or any(ch in source for ch in "*?[")
            into_folder = copy.destination.endswith("/") or many
            for f in matched:
                if pattern == ".":
                    inside = f
                elif regex.fullmatch(f) and not f.startswith(pattern + "/"):
                    # A file (or a glob's file) lands in the destination folder by name, or
                    # as the destination itself.
                    inside = PurePosixPath(f).name if into_folder else ""
                else:
                    inside = f[len(pattern) + 1 :]  # a folder's contents, not the folder
                target = PurePosixPath(copy.destination, inside) if inside else copy.destination
                placed[str(target).rstrip("/")] = f
    return placed


def assemble(into: Path, root: Path = ROOT) -> dict[str, str]:
    """Copy what the image would hold under its final WORKDIR into `into`; returns the map.
    Files placed elsewhere in the image (outside WORKDIR) are left out: no command reads them."""
    dockerfile = (root / "Dockerfile").read_text()
    workdir = final_workdir(dockerfile)
    placed = image_files(dockerfile, context_files(root))
    for target, source in placed.items():
        relative = PurePosixPath(target).relative_to(workdir)
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / source, into / relative)
    return placed
