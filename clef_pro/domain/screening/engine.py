"""Run the rules over a string: find the first shape, or redact them all.

Both entry points fold the text once (:mod:`.normalise`), look for every
rule's literals in one pass, blank URLs out once if a rule needs that, and run
only the rules whose guard passes. Each pattern is an RE2 automaton over bytes, so
the whole screen of a string is linear in its length.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final, cast

import re2

from clef_pro.domain.screening.normalise import Folded, fold, fold_tracked
from clef_pro.domain.screening.rules import RULES, URL, Rule, search

#: What a redacted substring becomes.
REDACTED: Final = "[redacted]"

#: The most matches (accepted or not) one rule may report in one string.
#: No CLI sentence comes near it; a string past it is treated as carrying the
#: shape (refused, or dropped whole), which bounds the Python-side work per
#: string however hostile the text.
MAX_MATCHES: Final = 64

#: What a span to redact is trimmed of: the separators a pattern may have
#: consumed as the boundary before or after its shape.
_LEADING: Final = b" \t\r\n\x0b\x0c\"'`([{<,;:|!?*&^#_=\x1a"
_TRAILING: Final = b" \t\r\n\x0b\x0c\"'`,;\x1a"

#: Redaction re-screens its own output; a second pass is the most it has
#: needed in practice, so a third is the limit before everything goes.
_REDACTION_PASSES: Final = 3


def _literal_automaton() -> tuple[re2.Set, list[int]]:
    """One automaton for every rule's literals, and for each literal the rules
    it guards (a bit per rule, in rule order)."""
    options = re2.Options()
    options.case_sensitive = False
    # Plain strings make a small automaton; the headroom is for certainty,
    # since a set that ran out of memory would report "no literal".
    options.max_mem = 64 << 20
    automaton = re2.Set.SearchSet(options)
    guarded: dict[str, int] = {}
    for index, rule in enumerate(RULES):
        for literal in rule.literals:
            guarded[literal] = guarded.get(literal, 0) | 1 << index
    literals = sorted(guarded)
    for literal in literals:
        automaton.Add(re2.escape(literal.encode()))
    automaton.Compile()
    return automaton, [guarded[literal] for literal in literals]


_LITERALS, _RULES_OF_LITERAL = _literal_automaton()
#: Rules guarded by length (and character counts) alone.
_UNGUARDED: Final = sum(1 << index for index, rule in enumerate(RULES) if not rule.literals)
_SHORTEST_UNGUARDED: Final = min(rule.min_length for rule in RULES if not rule.literals)


@lru_cache(maxsize=4096)
def _rules_of(mask: int) -> tuple[Rule, ...]:
    return tuple(rule for index, rule in enumerate(RULES) if mask >> index & 1)


def _candidates(text: bytes) -> list[Rule]:
    """The rules whose guards pass: the only ones whose patterns may match."""
    # The stubs call this a bool; RE2's set answers with the indices that matched.
    matched = cast("list[int] | None", _LITERALS.Match(text))
    length = len(text)
    if not matched and length < _SHORTEST_UNGUARDED:
        return []
    mask = _UNGUARDED
    for literal in matched or ():
        mask |= _RULES_OF_LITERAL[literal]
    return [
        rule
        for rule in _rules_of(mask)
        if length >= rule.min_length and rule.passes_charset_guard(text)
    ]


class _View:
    """The folded text as rules see it (ASCII bytes), and the rules to run on it."""

    __slots__ = ("_without_urls", "candidates", "text")

    def __init__(self, text: bytes) -> None:
        self.text = text
        self.candidates = _candidates(text)
        self._without_urls: bytes | None = None

    @property
    def without_urls(self) -> bytes:
        """The text with each URL replaced by as many ``x`` (offsets kept).

        ``file:`` URIs are kept: they are paths. The ``x`` keeps the URL a
        value, so ``DB_URL=https://...`` still reads as an assignment.
        """
        if self._without_urls is None:
            if b"://" not in self.text:
                self._without_urls = self.text
            else:
                blanked = bytearray(self.text)
                for match in URL.finditer(self.text):
                    start, end = match.span()
                    if self.text[start : start + 5].lower() != b"file:":
                        blanked[start:end] = b"x" * (end - start)
                self._without_urls = bytes(blanked)
        return self._without_urls

    def target(self, rule: Rule) -> bytes:
        return self.without_urls if rule.without_urls else self.text


def _spans(rule: Rule, view: _View) -> list[tuple[int, int]] | None:
    """Every accepted match of ``rule``: its first capture group, or the whole
    match. ``None`` if there are more than :data:`MAX_MATCHES` candidates.

    With a capture group, the next search starts where the group ended, not
    where the match did, so a boundary character a pattern consumed after one
    shape can still stand before the next.
    """
    target = view.target(rule)
    groups = rule.compiled.groups
    spans: list[tuple[int, int]] = []
    position = 0
    for _ in range(MAX_MATCHES):
        match = search(rule.compiled, target, position)
        if match is None:
            return spans
        match_start, match_end = match[0]
        start, end = match_start, match_end
        if groups:
            for group_start, group_end in match[1:]:
                if group_start >= 0:
                    start, end = group_start, group_end
                    break
            position = max(end, match_start + 1)
        else:
            position = max(match_end, match_start + 1)
            while start < end and target[start] in _LEADING:
                start += 1
            while end > start and target[end - 1] in _TRAILING:
                end -= 1
        if end > start and (rule.accept is None or rule.accept(target[start:end])):
            spans.append((start, end))
        if position > len(target):
            return spans
    return None


def _first_kind(view: _View) -> str | None:
    for rule in view.candidates:
        if rule.accept is None:
            # Every match counts: one search decides.
            if search(rule.compiled, view.target(rule), 0) is not None:
                return rule.kind
        elif _spans(rule, view) != []:
            return rule.kind
    return None


#: Strings screened clean lately. A report repeats most of its strings from
#: one commit to the next (namespace, environment and rule names, the cells'
#: descriptions, the same messages), screening is a pure function of the
#: text, and its fixed cost per string (folding, the literal pass) is most of
#: what a report's screening costs. Only clean strings are kept, never one
#: that carries a shape, and only short ones; the set is emptied when full,
#: so its memory stays bounded (about 16,000 strings of 256 characters at most).
_CLEAN: set[str] = set()
_CLEAN_MAX_ENTRIES: Final = 16_384
_CLEAN_MAX_LENGTH: Final = 256


def find_secret_shape(text: str) -> str | None:
    """The kind of secret-shaped data in ``text`` (e.g. ``"an age recipient"``),
    or ``None`` if there is none. Never returns any part of the text."""
    if not text or text in _CLEAN:
        return None
    kind = _first_kind(_View(fold(text).encode("ascii")))
    if kind is None and len(text) <= _CLEAN_MAX_LENGTH:
        if len(_CLEAN) >= _CLEAN_MAX_ENTRIES:
            _CLEAN.clear()
        _CLEAN.add(text)
    return kind


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _redact_once(text: str) -> str:
    folded: Folded = fold_tracked(text)
    view = _View(folded.text.encode("ascii"))
    spans: list[tuple[int, int]] = []
    for rule in view.candidates:
        found = _spans(rule, view)
        if found is None:
            return REDACTED
        spans.extend(folded.original_span(start, end) for start, end in found)
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in _merged(spans):
        pieces.append(text[position:start])
        pieces.append(REDACTED)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def redact(text: str) -> str:
    """``text`` with every secret-shaped substring replaced by ``[redacted]``.

    The result is screened again (a redaction can join what was around it
    into a new shape); if it still is not clean after a few passes, nothing
    of the text is kept.
    """
    for _ in range(_REDACTION_PASSES):
        if find_secret_shape(text) is None:
            return text
        text = _redact_once(text)
    return text if find_secret_shape(text) is None else REDACTED
