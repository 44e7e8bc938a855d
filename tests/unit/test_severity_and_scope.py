from __future__ import annotations

import pytest

from clef_pro.domain.scope import Scope
from clef_pro.domain.severity import HealthStatus, Severity, parse_severity


def test_cli_error_severity_counts_as_critical() -> None:
    assert parse_severity("error") is Severity.CRITICAL


@pytest.mark.parametrize("word", ["catastrophic", "ERROR", "", "warn"])
def test_unknown_severity_words_are_refused(word: str) -> None:
    with pytest.raises(ValueError, match="severity must be one of"):
        parse_severity(word)


def test_a_critical_channel_never_admits_a_warning() -> None:
    assert not Severity.CRITICAL.admits(Severity.WARNING)
    assert Severity.WARNING.admits(Severity.CRITICAL)
    assert Severity.INFO.admits(Severity.INFO)


def test_highest_severity_is_by_rank_not_by_name() -> None:
    assert (
        Severity.highest([Severity.WARNING, Severity.CRITICAL, Severity.INFO]) is Severity.CRITICAL
    )
    assert Severity.highest([]) is None


def test_unknown_health_sits_between_healthy_and_warning() -> None:
    ordered = sorted(HealthStatus, key=lambda status: status.badness)
    assert ordered == [
        HealthStatus.HEALTHY,
        HealthStatus.UNKNOWN,
        HealthStatus.WARNING,
        HealthStatus.CRITICAL,
    ]


@pytest.mark.parametrize(
    ("string_form", "object_form", "canonical"),
    [
        ("oauth/production", Scope("oauth", "production"), "oauth/production"),
        ("oauth", Scope("oauth", None), "oauth/*"),
        ("*/production", Scope(None, "production"), "*/production"),
        ("*", Scope(), "*"),
        ("", Scope(), "*"),
    ],
)
def test_both_scope_forms_collapse_to_one_canonical_string(
    string_form: str, object_form: Scope, canonical: str
) -> None:
    assert Scope.parse(string_form) == object_form
    assert object_form.canonical == canonical
    assert Scope.parse(canonical) == object_form


@pytest.mark.parametrize("text", ["a/b/c", "/etc/passwd", "a b/c"])
def test_malformed_scope_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        Scope.parse(text)


def test_scope_is_covered_only_when_its_named_parts_were_evaluated() -> None:
    namespaces, environments = {"database"}, {"dev", "prod"}
    assert Scope("database", "dev").is_covered_by(namespaces, environments)
    assert not Scope("auth", "dev").is_covered_by(namespaces, environments)
    assert not Scope("database", "staging").is_covered_by(namespaces, environments)
    assert Scope("database", None).is_covered_by(namespaces, environments)
    assert Scope().is_covered_by(namespaces, environments)
