"""Receipt codes: what a citizen is given at filing to look up a dossier or a feedback.

Twelve random Crockford base32 characters (60 bits from `secrets`) and a Luhn mod 32 check
character, printed in groups of four: `7K3M-Q9XD-2HTB-W`. The check character catches a mistyped
character or two swapped neighbours before the database is asked; the 60 random bits make
guessing hopeless, and the lookup's rate limit makes trying expensive."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_CHARS = 12
CODE_LENGTH = RANDOM_CHARS + 1
# Crockford's reading of look-alike characters.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def check_character(payload: str) -> str:
    """Luhn mod N over the alphabet."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for char in reversed(payload):
        addend = factor * ALPHABET.index(char)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def new_receipt_code() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return payload + check_character(payload)


def normalise(code: str) -> str | None:
    """The stored form of a typed code, or None if it cannot be one (wrong length, a character
    outside the alphabet, a wrong check character)."""
    cleaned = code.strip().upper().replace("-", "").replace(" ", "").translate(_READ_AS)
    if len(cleaned) != CODE_LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    if check_character(cleaned[:-1]) != cleaned[-1]:
        return None
    return cleaned


def display(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
