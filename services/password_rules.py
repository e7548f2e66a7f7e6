"""What a chosen password must be: at least MIN_PASSWORD_CHARS long, not the username nor
containing it, and not one of the commonly breached passwords shipped beside this module
(services/breached-passwords.txt), all compared case-insensitively."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 200
BREACHED_LIST = Path(__file__).with_name("breached-passwords.txt")


@lru_cache(maxsize=1)
def breached_passwords() -> frozenset[str]:
    lines = BREACHED_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().casefold() for line in lines if line.strip() and not line.startswith("#")
    )


def password_problem(username: str, password: str) -> str | None:
    """The rule a password breaks, as a sentence in Vietnamese; None when it is acceptable."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự."
    if len(password) > MAX_PASSWORD_CHARS:
        return f"Mật khẩu dài tối đa {MAX_PASSWORD_CHARS} ký tự."
    folded = password.casefold()
    if username and username.casefold() in folded:
        return "Mật khẩu không được chứa tên đăng nhập."
    if folded in breached_passwords():
        return (
            "Mật khẩu này quá phổ biến (nằm trong danh sách mật khẩu bị lộ). "
            "Hãy chọn mật khẩu khác."
        )
    return None
