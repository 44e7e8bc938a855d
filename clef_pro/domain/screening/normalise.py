# The look-alike table and its explanation are made of ambiguous characters on purpose.
# ruff: noqa: RUF001, RUF002
"""See through the usual disguises before any rule looks at a string.

A secret hidden from a pattern is still a secret to the person who reads it:
``age1`` with a zero-width space inside, a Cyrillic ``а`` for the Latin ``a``,
a fullwidth ``．`` in a vault host, ``%2F`` for a slash. Every rule therefore
matches a *folded* form of the text, never the text itself:

1. compatibility decomposition (the "K" of NFKC: fullwidth forms, ligatures,
   circled, superscript and mathematical letters become plain ones);
2. combining marks, format characters (zero-width spaces and joiners, bidi
   controls, soft hyphens, tag characters) and invisible fillers are dropped;
3. letters that look like Latin ones (Cyrillic, Greek, Armenian,
   Lisu) become those Latin letters, and look-alike punctuation (ideographic
   full stops, division slashes, dashes, ratio signs) becomes ASCII;
4. anything still outside ASCII becomes one :data:`OPAQUE` byte, which no rule
   treats as part of a token;
5. percent-encoding is decoded, and the result folded again, at most
   :data:`PERCENT_ROUNDS` times (``%252F`` is a ``/`` twice encoded).

Case is left alone here: each rule says whether it ignores case.

The folded text is pure ASCII, so rules run on bytes with byte offsets equal
to character offsets. Every step is one pass over its input, so folding is
linear in the length of the text. :func:`fold_tracked` does the same and can
also say which original characters a folded span came from, for redaction;
:func:`fold` is the fast form for a yes/no answer.

The look-alike table is deliberately small and one-directional (non-ASCII to
ASCII). Unicode's full confusable skeletons (UTS #39) also fold ASCII into
ASCII (``0`` to ``O``, ``1`` to ``l``, ``m`` to ``rn``), which would break the
hex and base64 shapes the rules look for.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

#: What a character that cannot be folded to ASCII becomes.
OPAQUE: Final = "\x1a"

#: How many times percent-encoding is peeled off (``%25`` encodes ``%`` itself).
PERCENT_ROUNDS: Final = 3

# Letters and punctuation that look like ASCII ones: one source, one target,
# in the same order.
_LOOKALIKES: Final = (
    # Cyrillic
    ("аеорсхуіјѕԁԛԝһӏкмгпьз", "aeopcxyijsdqwhlkmrnb3"),
    ("АВЕКМНОРСТХУІЈЅԚԜҮӀЗ", "ABEKMHOPCTXYIJSQWYl3"),
    # Greek
    ("αικνορτυχωγϲϳ", "aikvoptuxwycj"),
    ("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧϹ", "ABEZHIKMNOPTYXC"),
    # Armenian
    ("օսցհոզ", "oughnq"),
    # Latin letters outside ASCII that read as ASCII ones
    ("ıȷɑɡɩʟꞮ", "ijagilI"),
    # Lisu
    ("ꓮꓐꓚꓓꓰꓝꓖꓧꓲꓙꓗꓡꓟꓠꓳꓑꓣꓢꓔꓴꓦꓪꓫꓬꓜ", "ABCDEFGHIJKLMNOPRSTUVWXYZ"),
    # Full stops (IDNA treats the ideographic one as a label dot), slashes,
    # backslashes, colons, dashes and equals signs
    ("。․", ".."),
    ("∕⁄⧸╱", "////"),
    ("∖⧵⧹", "\\\\\\"),
    ("∶։꞉˸", "::::"),
    ("‐‑‒–—―−⁃", "--------"),
    ("꞊", "="),
)

_LOOKALIKE_MAP: Final[dict[str, str]] = {
    source: target
    for sources, targets in _LOOKALIKES
    for source, target in zip(sources, targets, strict=True)
}

# Invisible characters that are letters or symbols by category, not format
# characters: the Hangul fillers and the braille blank.
_INVISIBLE: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_DROPPED_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf"})


def _fold_part(part: str) -> str:
    """The ASCII form of one character of NFKD output (empty if invisible)."""
    if part.isascii():
        return part
    if part in _INVISIBLE or unicodedata.category(part) in _DROPPED_CATEGORIES:
        return ""
    part = _LOOKALIKE_MAP.get(part, part)
    if part.isascii():
        return part
    return " " if part.isspace() else OPAQUE


class _FoldTable(dict[int, str]):
    """A ``str.translate`` table for NFKD output, computed on demand, with a
    bounded cache so a body of a million distinct code points cannot grow it
    without limit."""

    limit: Final = 8192

    def __missing__(self, code: int) -> str:
        folded = _fold_part(chr(code))
        if len(self) < self.limit:
            self[code] = folded
        return folded


class _CharTable(dict[str, str]):
    """The folded form of each whole original character (its NFKD output,
    folded), for the tracked path; cached the same bounded way."""

    limit: Final = 8192

    def __missing__(self, char: str) -> str:
        folded = unicodedata.normalize("NFKD", char).translate(_TABLE)
        if len(self) < self.limit:
            self[char] = folded
        return folded


_TABLE: Final = _FoldTable({code: chr(code) for code in range(128)})
_CHARS: Final = _CharTable({chr(code): chr(code) for code in range(128)})
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def _fold_unicode(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed if decomposed.isascii() else decomposed.translate(_TABLE)


def _percent_parts(text: str) -> list[str]:
    """What each character of ``text`` becomes when ``%XX`` sequences are
    decoded (UTF-8; invalid bytes become U+FFFD). A run of escapes decodes as
    one: its first ``%`` carries the whole result, the rest become empty."""
    pieces = text.split("%")
    parts = list(pieces[0])
    pending = bytearray()
    run_start = 0
    for piece in pieces[1:]:
        if len(piece) >= 2 and piece[0] in _HEX and piece[1] in _HEX:
            if not pending:
                run_start = len(parts)
            parts += ("", "", "")
            pending.append(int(piece[:2], 16))
            if len(piece) == 2:
                continue
            parts[run_start] = pending.decode("utf-8", "replace")
            pending.clear()
            parts.extend(piece[2:])
            continue
        if pending:
            parts[run_start] = pending.decode("utf-8", "replace")
            pending.clear()
        parts.append("%")
        parts.extend(piece)
    if pending:
        parts[run_start] = pending.decode("utf-8", "replace")
    return parts


def fold(text: str) -> str:
    """The folded, pure-ASCII form of ``text`` that rules match against."""
    folded = _fold_unicode(text)
    for _ in range(PERCENT_ROUNDS):
        if "%" not in folded:
            break
        decoded = "".join(_percent_parts(folded))
        if decoded == folded:
            break
        folded = _fold_unicode(decoded)
    return folded


def _back(offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """Map a span of a step's output back to the step's input. ``offsets[i]``
    is where input character ``i``'s output begins (with the total at the
    end); characters whose output is empty go with the span after them."""
    first = bisect_right(offsets, start) - 1
    last = bisect_right(offsets, end) - 1
    return first, last if offsets[last] == end else last + 1


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text, and how to find the original characters behind any span
    of it: one offset table per folding step, innermost last."""

    text: str
    steps: tuple[list[int], ...] = ()

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original range that folded ``[start, end)`` came from."""
        for offsets in reversed(self.steps):
            start, end = _back(offsets, start, end)
        return start, end


def _step(parts: list[str]) -> tuple[str, list[int]]:
    return "".join(parts), list(accumulate(map(len, parts), initial=0))


def fold_tracked(text: str) -> Folded:
    """:func:`fold`, also able to map each folded span back to the original.

    Each step records, per input character, the length of what it became;
    the work per character is a dictionary look-up and an addition, both in
    C, and mapping a span back is a binary search per step.
    """
    if text.isascii() and "%" not in text:
        return Folded(text)
    steps: list[list[int]] = []
    folded = text
    if not text.isascii():
        folded, offsets = _step(list(map(_CHARS.__getitem__, text)))
        steps.append(offsets)
    for _ in range(PERCENT_ROUNDS):
        if "%" not in folded:
            break
        decoded, offsets = _step(_percent_parts(folded))
        if decoded == folded:
            break
        steps.append(offsets)
        folded = decoded
        if not folded.isascii():
            folded, offsets = _step(list(map(_CHARS.__getitem__, folded)))
            steps.append(offsets)
    return Folded(folded, tuple(steps))
