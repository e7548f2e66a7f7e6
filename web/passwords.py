"""Password hashes: scrypt (memory-hard, in the standard library), one random salt each."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# 16 MiB of memory per check: slow for a guesser, quick enough for a sign-in.
N, R, P = 2**14, 8, 1
KEY_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=KEY_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
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
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# Checked when a username is unknown, so that answering takes as long as for a known one.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
