"""Screening costs time in proportion to the text, whatever the text.

The old engine took 14 s for a 980 KB report of ``"a-" * 500`` messages: its
backtracking patterns were quadratic in a message. Here the claim is checked
two ways that do not depend on how fast the machine is: the number of
automaton searches per string does not grow with its length (each search is
RE2, linear by construction), and quadrupling a hostile input no more than
roughly quadruples the time (a quadratic engine would take sixteen times as
long; the bound leaves room for a noisy machine, and the times are CPU
times, best of three).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest
import re2

from clef_pro.domain.report import Report
from clef_pro.domain.screening import find_secret_shape, redact
from clef_pro.domain.screening.engine import MAX_MATCHES
from clef_pro.domain.screening.rules import RULES, Spans, search
from tests.support.contract import example

#: Units repeated into hostile strings: each one feeds a different rule's
#: pattern, guard or accept step, the folding, or the percent-decoding.
HOSTILE_UNITS = [
    "a-",
    "age1",
    "0x",
    "ab ",
    "/a",
    "~/",
    "\\\\a",
    "%25",
    "%2F",
    "\u200b",
    "\uff21",  # fullwidth A
    "\u0430",  # Cyrillic a
    "a=",
    "A='",
    "x_y: ",
    "export a=",
    "eyJ",
    "ab:",
    "1234 ",
    "3CEA9E6DBC17301B ",
    "AKIA",
    "https://a:",
    "keys/",
    "projects/a/",
    ".enc",
    "sops ",
    "ENC[a,",
    "-----BEGIN ",
    "Ab1",
    "Abcdefgh1",
]


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every RE2 search the engine makes."""
    count = [0]
    original = search

    def counted(regexp: re2._Regexp[bytes], text: bytes, position: int) -> Spans | None:
        count[0] += 1
        return original(regexp, text, position)

    monkeypatch.setattr("clef_pro.domain.screening.engine.search", counted)
    return count


def _screen(text: str) -> None:
    find_secret_shape(text)
    redact(text)


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_searches_per_string_do_not_grow_with_its_length(unit: str, searches: list[int]) -> None:
    bound = 4 * (len(RULES) + 1) * (MAX_MATCHES + 1)
    counts = []
    for length in (2_000, 200_000):
        searches[0] = 0
        _screen(unit * (length // len(unit)))
        counts.append(searches[0])
    assert max(counts) <= bound, counts


def test_the_search_counter_sees_the_engines_searches(searches: list[int]) -> None:
    _screen("recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
    assert searches[0] > 0


def _best_of(runs: int, work: Callable[[], object]) -> float:
    """The least CPU time of ``runs`` runs: CPU time, not wall time, so other
    processes on a shared machine do not count."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_four_times_the_text_takes_about_four_times_as_long(unit: str) -> None:
    small = unit * (250_000 // len(unit))
    large = unit * (1_000_000 // len(unit))
    ratio = _best_of(3, lambda: _screen(large)) / _best_of(3, lambda: _screen(small))
    assert ratio < 8, f"{ratio:.1f} times for four times the text"


def test_the_quadratic_report_of_the_attack_review_is_linear() -> None:
    """The report that took the old engine 14 s: every message ``"a-" * 500``."""

    def report(messages: int) -> dict[str, object]:
        body = example("report-spec.json")
        result = body["policyResults"][0]
        body["policyResults"] = [{**result, "message": "a-" * 500} for _ in range(messages)]
        return body

    small, large = report(245), report(980)  # about 245 KB and 980 KB
    ratio = _best_of(3, lambda: Report.model_validate(large)) / _best_of(
        3, lambda: Report.model_validate(small)
    )
    assert ratio < 8, f"{ratio:.1f} times for four times the messages"
