"""Vietnamese text as the product compares it: one way to take the diacritics off, for the
feedback classifier, the SMS renderer, and the names and deadlines plans write."""

from __future__ import annotations

import unicodedata

# "đ" is a letter of its own, not "d" with a mark, so decomposing leaves it; "Ð" (U+00D0, the
# Icelandic eth) is what some keyboards and converted files give for "Đ".
_BARRED_D = str.maketrans({"đ": "d", "Đ": "D", "Ð": "D"})


def without_diacritics(text: str) -> str:
    """The text with every tone and vowel mark taken off and "đ" written "d"; case and every
    other character kept. "Sở Nội vụ tỉnh Đắk Lắk" is "So Noi vu tinh Dak Lak"."""
    decomposed = unicodedata.normalize("NFD", text.translate(_BARRED_D))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
