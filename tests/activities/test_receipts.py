"""Receipt codes: random, checked, readable back from what people type."""

from __future__ import annotations

from services.receipts import ALPHABET, CODE_LENGTH, display, new_receipt_code, normalise


def test_codes_are_thirteen_characters_with_a_valid_check() -> None:
    codes = {new_receipt_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == CODE_LENGTH and normalise(c) == c for c in codes)


def test_typed_forms_are_read_back_and_a_typo_is_caught() -> None:
    code = new_receipt_code()
    assert normalise(display(code).lower()) == code
    assert normalise(f"  {display(code)} ") == code
    # Every single-character change is caught by the check character.
    caught = 0
    for i in range(CODE_LENGTH):
        for c in ALPHABET:
            if c != code[i]:
                caught += normalise(code[:i] + c + code[i + 1 :]) is None
    assert caught == CODE_LENGTH * (len(ALPHABET) - 1)
    assert normalise("ABC") is None
    assert normalise("U" * CODE_LENGTH) is None
