"""How `make test` shares the suite between its processes (pytest-xdist, `-n 2`).

Every process sets up the session's database and dev server of each backend it meets, and a
switch from one backend to the other tears the first down: the tests of one backend therefore go
to one process, in collection order, the order of a run in one process (tests share the
session's database: a module that stores a directive without a policy, as a roll-up test does,
must not come before the API's listing of every directive). The stacks started as `make run`
starts them (`run.py`: the end-to-end and browser tests) go to one process too, one at a time:
each takes the worker's conventional metrics port when it finds it free, and two starting at
once could both find it free. Every other module goes whole to whichever process is free, since
its tests share its module-scoped fixtures."""

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


def group_of(nodeid: str) -> str:
    backend = backend_of(nodeid)
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
    ordered = False

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)

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
