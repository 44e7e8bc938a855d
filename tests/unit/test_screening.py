"""The screening engine against its corpus: every secret-shaped value found,
alone and inside the CLI's sentences, and redacted without a remainder; every
real CLI message and legitimate name, branch, URL and id left alone."""

# The corpus is made of look-alike characters on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clef_pro.domain.screening import (
    REDACTED,
    find_control_character,
    find_secret_shape,
    redact,
)
from clef_pro.domain.screening.normalise import fold, fold_tracked
from clef_pro.domain.screening.rules import RULES

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "screening"
SECRETS: list[dict[str, str]] = json.loads((CORPUS / "secrets.json").read_text())
CLEAN: dict[str, list[str]] = json.loads((CORPUS / "clean.json").read_text())
CLEAN_VALUES = [(category, value) for category, values in CLEAN.items() for value in values]

#: Sentences of the kind the CLI composes, with a secret where a name would be.
SENTENCES = [
    "{}",
    "Missing encrypted file for {}.",
    "Expected recipient '{}' is missing from encrypted file.",
    "Rotation overdue for {} (94 days)",
    "Could not load schema '{}' for validation.",
    "2 keys missing in {}",
    "Failed to decrypt file. Ensure you have the correct decryption key: {}",
    "see {} for details",
    "[{}]",
    '"{}"',
    "1 key in [{}, staging] missing from production",
    "{}\n2 keys missing",
]


def _secret_id(entry: dict[str, str]) -> str:
    return f"{entry['kind']}: {entry.get('note') or entry['value'][:24]!r}"


def _remainders(value: str) -> list[str]:
    """The parts of a secret that would still identify it: runs of ten or more
    letters and digits that mix both (words like 'recipient' do not count)."""
    return [
        run
        for run in re.findall(r"[A-Za-z0-9]{10,}", fold(value))
        if re.search(r"[0-9]", run) and re.search(r"[A-Za-z]", run)
    ]


def test_the_corpus_is_large_and_covers_every_rule() -> None:
    assert len(SECRETS) >= 100
    assert {entry["kind"] for entry in SECRETS} == {rule.kind for rule in RULES}
    assert len(CLEAN["cliMessages"]) >= 40


@pytest.mark.parametrize("entry", SECRETS, ids=_secret_id)
def test_each_secret_is_found_and_named_by_its_kind(entry: dict[str, str]) -> None:
    assert find_secret_shape(entry["value"]) == entry["kind"]


@pytest.mark.parametrize("entry", SECRETS, ids=_secret_id)
def test_each_secret_is_found_inside_every_cli_sentence(entry: dict[str, str]) -> None:
    for sentence in SENTENCES:
        assert find_secret_shape(sentence.format(entry["value"])) is not None, sentence


@pytest.mark.parametrize("entry", SECRETS, ids=_secret_id)
def test_each_secret_is_redacted_without_a_remainder(entry: dict[str, str]) -> None:
    for sentence in SENTENCES:
        redacted = redact(sentence.format(entry["value"]))
        assert REDACTED in redacted, sentence
        assert find_secret_shape(redacted) is None, (sentence, redacted)
        for remainder in _remainders(entry["value"]):
            assert remainder not in fold(redacted), (sentence, redacted)


def test_redaction_keeps_the_sentence_around_the_secret() -> None:
    recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    assert (
        redact(f"Expected recipient '{recipient}' is missing from encrypted file.")
        == "Expected recipient '[redacted]' is missing from encrypted file."
    )
    assert redact(f"dev_а{recipient[1:]}, again") == "dev_[redacted], again"
    assert redact("file /home/ci/secrets/prod is old") == "file [redacted] is old"


def test_redaction_reaches_back_over_disguises_to_the_original_characters() -> None:
    # A zero-width space, a fullwidth dot and percent-encoding are all inside
    # the redacted span, so none of the disguised value survives.
    assert redact("key in acme\u200b-sops．vault．azure．net now") == "key in [redacted] now"
    assert redact("path %2Fhome%2Fci%2Fsecrets here") == "path [redacted] here"
    assert redact("x ０ｘ3CEA9E6DBC17301B y") == "x [redacted] y"


@pytest.mark.parametrize(("category", "value"), CLEAN_VALUES)
def test_real_cli_wording_and_legitimate_values_pass(category: str, value: str) -> None:
    assert find_secret_shape(value) is None, category
    assert redact(value) == value


@pytest.mark.parametrize(
    "display",
    [
        "age1…aqmcac8p",
        "age1...aqmcac8p",
        "85D7…491B3F21",
        "arn:…567890ab",
    ],
)
def test_the_clis_own_redacted_recipient_display_passes(display: str) -> None:
    """The CLI names a recipient by its first four and last eight characters
    around an ellipsis; that is a redaction, not a recipient."""
    sentence = f"Expected recipient '{display}' is missing from encrypted file."
    assert find_secret_shape(sentence) is None


def test_the_finding_never_contains_the_matched_value() -> None:
    for entry in SECRETS:
        found = find_secret_shape(entry["value"])
        assert found is not None
        for remainder in _remainders(entry["value"]):
            assert remainder not in found


@pytest.mark.parametrize(
    "number",
    ["1234567890123456", "run 1234567890123456 of the pipeline", "2019 2020 2021 2022"],
)
def test_numbers_are_not_key_ids(number: str) -> None:
    assert find_secret_shape(number) is None


def test_a_string_with_too_many_candidates_is_dropped_whole() -> None:
    text = " ".join(f"AKIA{index:016d}" for index in range(200))
    assert find_secret_shape(text) == "an AWS access key id"
    assert redact(text) == REDACTED


# --- folding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ａｇｅ１", "age1"),  # fullwidth
        ("а\u200bg\u200dе", "age"),  # Cyrillic, zero-width space and joiner
        ("\u202eabc\u202c", "abc"),  # bidi controls
        ("vault。azure．net", "vault.azure.net"),
        ("%252Fhome%2Fci", "/home/ci"),  # twice encoded
        ("%E2%88%95etc", "/etc"),  # an encoded division slash
        ("café", "cafe"),
        ("x\u00a0y", "x y"),
        ("漢字", "\x1a\x1a"),
        ("100%", "100%"),
        ("%zz%4", "%zz%4"),
    ],
)
def test_folding_sees_through_disguises(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert fold_tracked(text).text == folded


def test_folded_spans_map_back_to_the_original_characters() -> None:
    text = "x%2Fhome\u200b%252Fci"
    folded = fold_tracked(text)
    assert folded.text == "x/home/ci"
    assert folded.original_span(1, 2) == (1, 4)  # "/" came from "%2F"
    assert folded.original_span(6, 7) == (9, 14)  # "/" came from "%252F", twice decoded
    assert folded.original_span(0, len(folded.text)) == (0, len(text))


# --- control characters -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "free_text", "found"),
    [
        ("a\x00b", False, "a control character (U+0000)"),
        ("a\x00b", True, "a control character (U+0000)"),
        ("a\tb", False, "a control character (U+0009)"),
        ("a\tb\nc\r\n", True, None),
        ("a\x1bb", True, "a control character (U+001B)"),
        ("a\x7fb", True, "a control character (U+007F)"),
        ("a\x85b", True, "a control character (U+0085)"),
        ("a\ud800b", True, "a surrogate (U+D800)"),
        ("naïve ✓", False, None),
    ],
)
def test_control_characters_are_named_by_code_point(
    text: str, free_text: bool, found: str | None
) -> None:
    assert find_control_character(text, free_text=free_text) == found


def test_the_corpus_files_keep_invisible_characters_visible() -> None:
    """Zero-width and look-alike characters sit in the corpus as \\u escapes,
    so a reviewer sees them."""
    raw = (CORPUS / "secrets.json").read_text()
    assert raw.isascii()
    assert "\\u200b" in raw
