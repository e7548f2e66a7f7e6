"""One compiled copy of each workflow module's code for every workflow run of the process.

The SDK's sandbox imports a workflow's module afresh for each run, so that no run sees
another's module state and each run's globals are the sandbox's restricted proxies. A fresh
import also reads the module's compiled file and unmarshals its code again: for
workflows/assignment.py 49 KB of the 60 KB each run's import holds (tracemalloc), in each of the
1,000 runs the worker's cache keeps. Code objects are immutable, so runs can share them; the
module, its classes, its functions and their globals stay each run's own, and the sandbox
restricts them as before.

`install(packages)` puts a finder first on `sys.meta_path` for those packages: it finds their
modules as Python does, and loads them with a loader that keeps the code it unmarshalled, per
file, while the file is unchanged."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType

# (path, modification time in ns, size) of a module's source → its code.
_CODE: dict[tuple[str, int, int], CodeType] = {}
_LOCK = threading.Lock()


class _SharedCodeLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        stats = self.path_stats(self.path)
        key = (self.path, int(stats["mtime"] * 1e9), int(stats.get("size", -1)))
        with _LOCK:
            code = _CODE.get(key)
        if code is None:
            loaded = super().get_code(fullname)
            assert loaded is not None, f"{fullname} has no code"
            with _LOCK:
                code = _CODE.setdefault(key, loaded)
        return code


class SharedCodeFinder(importlib.abc.MetaPathFinder):
    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = frozenset(packages)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.packages:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            return spec
        assert spec.origin is not None
        spec.loader = _SharedCodeLoader(fullname, spec.origin)
        return spec


def install(packages: Sequence[str]) -> None:
    """Share the code of these packages' modules between imports, from now on. Once per
    process: a second call changes nothing."""
    if not any(isinstance(f, SharedCodeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, SharedCodeFinder(packages))
