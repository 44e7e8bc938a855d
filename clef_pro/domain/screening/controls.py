"""Characters no report string may carry.

A NUL cannot be stored in PostgreSQL text at all (the insert fails), other
C0 and C1 controls make log lines and mails lie about their content, and a
lone UTF-16 surrogate (``"\\ud800"`` is valid JSON) cannot be encoded as UTF-8
for the database. They are refused at the door with the field named, never
stored on one database and a server error on the other. Free text may hold
tabs and line breaks; names, ids, versions and URLs may not.
"""

from __future__ import annotations

from typing import Final

_CONTROL_CODES: Final = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]  # C0, DEL, C1
_SURROGATES: Final = range(0xD800, 0xE000)

_STRIP_ALL: Final[dict[int, None]] = dict.fromkeys([*_CONTROL_CODES, *_SURROGATES])
_STRIP_BUT_LAYOUT: Final[dict[int, None]] = {
    code: None for code in _STRIP_ALL if chr(code) not in "\t\n\r"
}


def strip_control_characters(text: str) -> str:
    """``text`` without the characters free text may not carry (tabs and line
    breaks stay): for text that is cleaned and kept rather than refused (OTLP)."""
    return text.translate(_STRIP_BUT_LAYOUT)


def find_control_character(text: str, *, free_text: bool = False) -> str | None:
    """Name the first character ``text`` may not carry (``"U+0000"``), or ``None``.

    ``free_text`` allows tab, line feed and carriage return.
    """
    if text.isascii() and text.isprintable():
        # Printable ASCII holds no C0 control or DEL, and C1 controls and
        # surrogates are not ASCII: nothing to look for (both checks run in C).
        return None
    table = _STRIP_BUT_LAYOUT if free_text else _STRIP_ALL
    if len(text.translate(table)) == len(text):
        return None
    for char in text:
        if ord(char) in table:
            kind = "a surrogate" if ord(char) in _SURROGATES else "a control character"
            return f"{kind} (U+{ord(char):04X})"
    return None  # pragma: no cover - translate found one above
