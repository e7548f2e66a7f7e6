"""The benchmark's progress lines on standard output, flushed as they come: a run takes
minutes and a reader watches it."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    sys.stdout.write(f"bench: {message}\n")
    sys.stdout.flush()
