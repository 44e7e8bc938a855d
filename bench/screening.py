"""The cost of screening a report, against baselines measured in the same run.

Why: every string of every report passes through screening before anything
is stored, so its cost is paid per report on the ingestion path. This
benchmark screens every string of the contract's example reports (all of
them, not only the free text) and compares the time with two baselines on
the same strings, in the same process:

- **lower()**: one ``str.lower()`` per string, the least any pass over the
  text could cost in Python;
- **previous engine**: the screening Clef Pro shipped before (backtracking
  ``re`` patterns run one after another over the raw text), reproduced here
  as it was, so the ratio says what the folding, the extra shapes and RE2
  cost or save on ordinary reports.

A second table screens the attack review's hostile message (``"a-" * 500``,
one policy result's message) with both engines: the previous one was
quadratic in a message's length (a 980 KB report of them took 14 s).

Run on demand, not in CI::

    .venv/bin/python -m bench.screening [--repeat N]

Times are CPU times of this process (best of five for the reports). Read
the ratios; absolute figures move with the machine and its load.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from clef_pro.domain.report import Report
from clef_pro.domain.screening import find_secret_shape, redact
from tests.support.contract import example

# --- the previous engine, as it was -------------------------------------------------

_PREVIOUS_URL: Final = re.compile(r"[a-z][a-z0-9+.-]*://\S*", re.IGNORECASE)
_PREVIOUS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("an age recipient", re.compile(r"\bage1[0-9a-z]{20,}", re.IGNORECASE)),
    ("an age identity", re.compile(r"AGE-(?:PLUGIN-[A-Z0-9]+-)?SECRET-KEY-1", re.I)),
    (
        "a PGP fingerprint",
        re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{4} ?){9}[0-9A-Fa-f]{4}(?![0-9A-Fa-f])"),
    ),
    ("a PGP key id", re.compile(r"\b0x[0-9A-Fa-f]{16}\b")),
    ("a PGP or SSH key block", re.compile(r"-----BEGIN [A-Z ]*(?:KEY|MESSAGE)")),
    ("an SSH public key", re.compile(r"\b(?:ssh-(?:rsa|ed25519)|ecdsa-sha2-\S+) AAAA")),
    ("an AWS KMS key ARN", re.compile(r"\barn:aws[a-z-]*:kms:", re.IGNORECASE)),
    (
        "a GCP KMS key name",
        re.compile(r"\bprojects/[^/\s]+/locations/[^/\s]+/keyRings/[^/\s]+", re.IGNORECASE),
    ),
    ("a GCP KMS key name", re.compile(r"/cryptoKeys/[^/\s]+", re.IGNORECASE)),
    (
        "an Azure Key Vault key URL",
        re.compile(
            r"\b[\w-]+\.vault\.(?:azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)\b",
            re.IGNORECASE,
        ),
    ),
    ("a HashiCorp Vault transit key path", re.compile(r"\btransit/keys/\S+")),
    ("an encrypted file path", re.compile(r"[\w@-]\.enc\.[A-Za-z0-9]+\b|\.sops\b")),
    ("an absolute file path", re.compile(r"(?:^|[\s\"'`(\[=,;])(?:~?/[\w.@+-]+){2,}")),
    ("an absolute file path", re.compile(r"\b[A-Za-z]:\\[^\s]")),
    ("an absolute file path", re.compile(r"(?:^|\s)~/\S")),
    ("an environment variable", re.compile(r"\b[A-Z][A-Z0-9_]{2,}=\S")),
)


def previous_find_secret_shape(text: str) -> str | None:
    without_urls = _PREVIOUS_URL.sub(" ", text)
    for kind, pattern in _PREVIOUS:
        haystack = without_urls if kind == "an absolute file path" else text
        if pattern.search(haystack):
            return kind
    return None


# --- measuring ------------------------------------------------------------------------


def report_strings(node: Any, key: str = "") -> Iterator[str]:
    """Every string a report carries, except its commit id (checked by pattern)."""
    if isinstance(node, str):
        if key != "commitSha":
            yield node
    elif isinstance(node, dict):
        for child_key, value in node.items():
            yield from report_strings(value, child_key)
    elif isinstance(node, list):
        for value in node:
            yield from report_strings(value, key)


def per_call(work: Callable[[], object], repeat: int) -> float:
    """Best-of-five mean CPU seconds per call of ``work`` over ``repeat`` calls
    (CPU time, so other processes on a shared machine do not count)."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeat):
            work()
        best = min(best, (time.process_time() - start) / repeat)
    return best


@dataclass
class Row:
    name: str
    strings: int
    characters: int
    lower_us: float
    previous_us: float
    screening_us: float
    redaction_us: float
    validation_us: float


def measure(name: str, body: dict[str, Any], repeat: int) -> Row:
    strings = list(report_strings(body))
    assert all(find_secret_shape(text) is None for text in strings), name

    def lower() -> None:
        for text in strings:
            text.lower()

    def previous() -> None:
        for text in strings:
            previous_find_secret_shape(text)

    def screening() -> None:
        for text in strings:
            find_secret_shape(text)

    def redaction() -> None:
        for text in strings:
            redact(text)

    return Row(
        name=name,
        strings=len(strings),
        characters=sum(map(len, strings)),
        lower_us=per_call(lower, repeat) * 1e6,
        previous_us=per_call(previous, repeat) * 1e6,
        screening_us=per_call(screening, repeat) * 1e6,
        redaction_us=per_call(redaction, repeat) * 1e6,
        validation_us=per_call(lambda: Report.model_validate(body), repeat) * 1e6,
    )


def hostile(messages: int) -> list[str]:
    return ["a-" * 500] * messages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200, help="calls per timing")
    args = parser.parse_args(argv)

    reports = {
        "report-cli.json": example("report-cli.json"),
        "report-spec.json": example("report-spec.json"),
        **{
            f"batch.json[{index}]": body
            for index, body in enumerate(example("batch.json")["reports"])
        },
    }
    rows = [measure(name, body, args.repeat) for name, body in reports.items()]

    print(f"# Screening, {platform.python_implementation()} {platform.python_version()}")
    print()
    print(
        "| report | strings | chars | lower() µs | previous µs | screening µs "
        "| screening / lower() | screening / previous | redact µs | validation µs |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.name} | {row.strings} | {row.characters} | {row.lower_us:.1f} "
            f"| {row.previous_us:.1f} | {row.screening_us:.1f} "
            f"| {row.screening_us / row.lower_us:.1f} "
            f"| {row.screening_us / row.previous_us:.2f} "
            f"| {row.redaction_us:.1f} | {row.validation_us:.1f} |"
        )
    screening = statistics.mean(row.screening_us for row in rows)
    validation = statistics.mean(row.validation_us for row in rows)
    print()
    print(
        f"Screening is {screening / statistics.mean(row.lower_us for row in rows):.1f} times "
        f"a lower() pass, {screening / statistics.mean(row.previous_us for row in rows):.2f} "
        f"times the previous engine, and {100 * screening / validation:.0f}% of validating "
        "a report."
    )

    print()
    print('## The attack review\'s message, "a-" * 500 (1000 characters)')
    print()
    print("| engine | messages | CPU ms | CPU ms per message |")
    print("|---|---:|---:|---:|")
    timings = {}
    for engine, screen, messages in [
        ("previous", previous_find_secret_shape, 10),
        ("screening", find_secret_shape, 980),
    ]:
        texts = hostile(messages)
        start = time.process_time()
        for text in texts:
            screen(text)
        elapsed = time.process_time() - start
        timings[engine] = elapsed / messages
        print(f"| {engine} | {messages} | {elapsed * 1e3:.1f} | {elapsed / messages * 1e3:.3f} |")
    print()
    slower = timings["previous"] / timings["screening"]
    print(f"Per hostile message the previous engine took {slower:.0f} times as long.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
