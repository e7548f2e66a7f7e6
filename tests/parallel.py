"""How `make test` shares the suite between its processes (pytest-xdist, `-n 2`).

Every process sets up the session's database and dev server of each backend it meets, and a
switch from one backend to the other tears the first down: the tests of one backend therefore go
to one process, in collection order. The stacks started as `make run` starts them (`run.py`: the
end-to-end and browser tests) go to one process too, one at a time: each takes the worker's
conventional metrics port when it finds it free, and two starting at once could both find it
free. Every other module goes whole to whichever process is free, since its tests share its
module-scoped fixtures.

A run with one backend only (CI's second pass: `-k 'sqlite or replay'`) shares its tests module
by module: each process then sets up that backend once."""

from __future__ import annotations

import re
from collections import OrderedDict

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

BACKENDS = ("postgresql", "sqlite")
LIVE_STACKS = ("tests/e2e/", "tests/browser/")
PARAMETERS = re.compile(r"\[(.*)\]$")


def backend_of(nodeid: str) -> str | None:
    """The backend in a test's parameters (`[postgresql-4]`, `[sqlite-database-timeout]`)."""
    found = PARAMETERS.search(nodeid)
    if found is None:
        return None
    parts = found.group(1).split("-")
    return next((backend for backend in BACKENDS if backend in parts), None)


def group_of(nodeid: str, by_backend: bool) -> str:
    backend = backend_of(nodeid) if by_backend else None
    if backend is not None:
        return backend
    module = nodeid.split("::")[0]
    if module.startswith(LIVE_STACKS):
        return "live stacks"
    return module


def rank(group: str) -> int:
    """Longest first: a backend's tests, then the live stacks, then the modules."""
    if group in BACKENDS:
        return BACKENDS.index(group)
    return len(BACKENDS) + (group != "live stacks")


class ByBackendScheduling(LoadScopeScheduling):
    """xdist's `loadscope` with the scopes above, the longest first."""

    workqueue: OrderedDict[str, dict[str, bool]]
    by_backend: bool | None = None
    ordered = False

    def _split_scope(self, nodeid: str) -> str:
        if self.by_backend is None:
            # Decided once, on the whole collection (set by the time work is split).
            found = {backend_of(n) for n in self.collection or []} - {None}
            self.by_backend = len(found) > 1
        return group_of(nodeid, self.by_backend)

    def _assign_work_unit(self, node: WorkerController) -> None:
        if not self.ordered:
            self.ordered = True
            self.workqueue = OrderedDict(sorted(self.workqueue.items(), key=lambda u: rank(u[0])))
        super()._assign_work_unit(node)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling | None:
    """`--dist loadscope` (as `make test` asks), by backend and live stack."""
    if config.getvalue("dist") != "loadscope":
        return None
    return ByBackendScheduling(config, log)
