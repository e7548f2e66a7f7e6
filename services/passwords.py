"""Password hashes: argon2id at OWASP's recommended cost, one random salt each.

Hashes made before argon2id (`scrypt$16384$8$1$…`) still verify, and sign-in replaces them
(`needs_rehash`). Pages and routes call the async functions: one hash costs about 25 ms of CPU
and 19 MiB, so it runs in a worker thread, a few at a time, never on the event loop, where a
burst of sign-ins used to stall every other request of the process.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import weakref

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from config import get_settings

# OWASP Password Storage Cheat Sheet, first choice: argon2id, m=19 MiB, t=2, p=1.
MEMORY_KIB, TIME_COST, PARALLELISM = 19 * 1024, 2, 1
_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
ARGON2_PREFIX = "$argon2id$"
LEGACY_SCRYPT_PREFIX = "scrypt$"


def hash_password(password: str, salt: bytes | None = None) -> str:
    """An argon2id hash (`$argon2id$v=19$m=19456,t=2,p=1$…`). Blocks for one hash: scripts and
    tests call it; request handlers call `hash_password_async`."""
    return _HASHER.hash(password, salt=salt)


def _verify_scrypt(password: str, stored: str) -> bool:
    scheme, n, r, p, salt, key = stored.split("$")
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(key)
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored` (argon2id, or scrypt from before). Anything else,
    an empty hash (no password chosen yet) included, is False; never raises."""
    try:
        if stored.startswith(ARGON2_PREFIX):
            return _HASHER.verify(stored, password)
        if stored.startswith(LEGACY_SCRYPT_PREFIX):
            return _verify_scrypt(password, stored)
    except (VerificationError, InvalidHashError, ValueError):
        return False
    return False


def needs_rehash(stored: str) -> bool:
    """True when `stored` is not argon2id at today's cost: once its password has verified, the
    caller stores `hash_password_async(password)` in its place."""
    if not stored.startswith(ARGON2_PREFIX):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


# One semaphore per event loop (an asyncio.Semaphore belongs to the loop it first waits on;
# tests run many loops), sized by AXIS_PASSWORD_HASH_CONCURRENCY when first used.
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _SLOTS.get(loop)
    if slots is None:
        slots = asyncio.Semaphore(get_settings().password_hash_concurrency)
        _SLOTS[loop] = slots
    return slots


async def hash_password_async(password: str) -> str:
    """`hash_password` in a worker thread, at most AXIS_PASSWORD_HASH_CONCURRENCY at once: a
    burst queues here instead of taking every core and the thread pool other work needs."""
    async with _slots():
        # Looked up at call time, so a test can stand in for the hasher.
        return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, stored: str) -> bool:
    """`verify_password` in a worker thread, bounded as `hash_password_async`."""
    async with _slots():
        return await asyncio.to_thread(verify_password, password, stored)


# Checked when a username is unknown or has no password yet, so that answering takes as long
# as for a known one: made with the current scheme, or the timing would tell them apart.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
