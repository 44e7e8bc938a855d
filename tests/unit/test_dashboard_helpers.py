"""The dashboard's pure helpers: times, badges, the matrix grid, sorting and
filtering, sessions, CSRF, redirects, origins and trusted proxy addresses."""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clef_pro.domain.config import ApiKeyHash, IntegrationConfig, IntegrationSource
from clef_pro_api import proxies, schemas
from clef_pro_api.dashboard import present, security
from clef_pro_api.settings import Settings
from clef_pro_operator.resolve import resolve
from clef_pro_operator.resources import IntegrationSpec

NOW = datetime(2026, 5, 9, 12, 0, 0, tzinfo=UTC)

# ---------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=44), "just now"),
        (timedelta(seconds=50), "1 minute ago"),
        (timedelta(minutes=3), "3 minutes ago"),
        (timedelta(minutes=89), "89 minutes ago"),
        (timedelta(minutes=95), "2 hours ago"),
        (timedelta(hours=35), "35 hours ago"),
        (timedelta(hours=37), "2 days ago"),
        (timedelta(days=12), "12 days ago"),
        (timedelta(days=44), "44 days ago"),
        (timedelta(days=94), "3 months ago"),
        (timedelta(days=400), "1 year ago"),
        (timedelta(days=900), "2 years ago"),
    ],
)
def test_relative_time_is_coarse_and_readable(delta: timedelta, words: str) -> None:
    assert present.relative_time(NOW - delta, NOW) == words


def test_relative_time_in_the_future() -> None:
    assert present.relative_time(NOW + timedelta(hours=2), NOW) == "in 2 hours"


def test_exact_times_are_utc_and_unambiguous() -> None:
    moment = datetime(2026, 5, 9, 14, 3, 5, tzinfo=UTC)
    assert present.exact_time(moment) == "2026-05-09 14:03:05 UTC"
    assert present.iso_time(moment) == "2026-05-09T14:03:05Z"
    assert present.from_epoch_ms(1_763_900_500_000) == datetime(
        2025, 11, 23, 12, 21, 40, tzinfo=UTC
    )


# ---------------------------------------------------------------- badges


def test_every_health_has_a_symbol_and_a_word_not_only_a_colour() -> None:
    for status in ("healthy", "warning", "critical", "unknown"):
        badge = present.health_badge(status)
        assert badge.icon
        assert badge.word.lower() == status
        assert badge.css == status
    assert present.health_badge(None).word == "No reports"
    assert {b.icon for b in present.HEALTH.values()} == {"✓", "▲", "✕", "?"}


def test_scopes_are_spelled_out() -> None:
    assert present.scope_text("oauth/production") == "oauth / production"
    assert present.scope_text("*") == "all namespaces"
    assert present.scope_text("oauth/*") == "oauth / every environment"
    assert present.scope_text("*/production") == "every namespace / production"


# ---------------------------------------------------------------- the matrix


def test_drift_reads_either_form_the_cli_sends() -> None:
    spec_form = {
        "namespace": "database",
        "isDrifted": True,
        "severity": "warning",
        "summary": "Development has an additional recipient",
    }
    assert present.drift_view(spec_form) == present.DriftView(
        True, "warning", "Development has an additional recipient"
    )
    cli_form = {"namespace": "oauth", "isDrifted": True, "driftCount": 3}
    assert present.drift_view(cli_form).text == "3 differences across environments"
    assert present.drift_view({"namespace": "x", "isDrifted": False, "driftCount": 0}) == (
        present.DriftView(False, None, "No drift")
    )


def test_the_matrix_grid_has_a_row_per_namespace_and_a_cell_per_environment() -> None:
    view = schemas.MatrixView(
        integration_id="x",
        commit=schemas.CommitRef(
            report_id="r", commit_sha="a" * 40, branch="main", commit_timestamp=0, received_at=NOW
        ),
        is_head=True,
        passed=False,
        files_scanned=3,
        violations=1,
        namespaces=["oauth", "db"],
        environments=["dev", "prod"],
        cells=[
            {
                "namespace": "oauth",
                "environment": "prod",
                "healthStatus": "critical",
                "description": "2 keys missing",
            },
            {
                "namespace": "oauth",
                "environment": "dev",
                "healthStatus": "healthy",
                "description": "fine",
            },
            {
                "namespace": "db",
                "environment": "dev",
                "healthStatus": "warning",
                "description": "old",
            },
        ],
        drift=[{"namespace": "db", "isDrifted": True, "driftCount": 1}],
        policy_results=[],
        ci_context=None,
    )
    oauth, db = present.matrix_rows(view)
    assert [c.badge.word if c else None for c in oauth.cells] == ["Healthy", "Critical"]
    assert oauth.cells[1] is not None
    assert oauth.cells[1].description == "2 keys missing"
    assert oauth.drift is None
    assert db.cells[1] is None  # not reported: shown as such, never guessed
    assert db.drift is not None
    assert db.drift.text == "1 difference across environments"


# ---------------------------------------------------------------- the overview


def summary(
    name: str,
    *,
    worst: str | None = None,
    critical: int = 0,
    warning: int = 0,
    drifted: tuple[str, ...] = (),
    at: int | None = None,
    repository: str | None = None,
) -> schemas.IntegrationSummary:
    head = (
        schemas.CommitRef(
            report_id=name,
            commit_sha="a" * 40,
            branch="main",
            commit_timestamp=at,
            received_at=NOW,
        )
        if at is not None
        else None
    )
    return schemas.IntegrationSummary(
        integration_id=name.lower(),
        display_name=name,
        repository=repository,
        head=head,
        passed=None if head is None else worst == "healthy",
        worst_status=worst,
        drifted_namespaces=list(drifted),
        open_alerts=schemas.AlertCounts(critical=critical, warning=warning),
    )


ITEMS = [
    summary("Billing"),
    summary("identity", worst="healthy", at=300),
    summary(
        "Payments",
        worst="critical",
        critical=1,
        warning=1,
        drifted=("db",),
        at=200,
        repository="github.com/acme/payments",
    ),
    summary("Search", worst="warning", warning=4, drifted=("a", "b"), at=100),
    summary("Audit", worst="unknown", at=50),
]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("health", ["Payments", "Search", "Audit", "identity", "Billing"]),
        ("name", ["Audit", "Billing", "identity", "Payments", "Search"]),
        ("alerts", ["Payments", "Search", "Audit", "Billing", "identity"]),
        ("activity", ["identity", "Payments", "Search", "Audit", "Billing"]),
        ("drift", ["Search", "Payments", "Audit", "Billing", "identity"]),
    ],
)
def test_sorting_puts_what_needs_attention_first(sort: str, order: list[str]) -> None:
    assert [item.display_name for item in present.sort_integrations(ITEMS, sort)] == order


def test_an_unknown_sort_falls_back_to_health() -> None:
    assert present.parse_sort("drop table") == "health"
    assert present.parse_sort(None) == "health"
    assert present.parse_sort("name") == "name"


def test_the_filter_matches_every_word_in_name_id_repository_and_drift() -> None:
    def names(query: str | None) -> list[str]:
        return [item.display_name for item in present.filter_integrations(ITEMS, query)]

    assert names(None) == [item.display_name for item in ITEMS]
    assert names("  ") == names(None)
    assert names("PAY") == ["Payments"]
    assert names("acme") == ["Payments"]
    assert names("db") == ["Payments"]
    assert names("pay acme") == ["Payments"]
    assert names("pay search") == []
    assert names("i") == ["Billing", "identity", "Payments", "Audit"]


# ---------------------------------------------------------------- sessions

KEY = security.derive_key("secret", "session")


def session(**changes: Any) -> security.SessionData:
    data = security.SessionData.new(
        username="alice", groups=("sre", "dev"), mode="kubernetes", now=time.time(), lifetime=60
    )
    return dataclasses.replace(data, **changes)


def test_a_session_round_trips_and_holds_no_credential() -> None:
    data = session()
    cookie = security.sign_session(data, KEY)
    assert security.read_session(cookie, KEY, now=time.time()) == data
    assert len(cookie) < security.MAX_COOKIE_BYTES


def test_a_session_signed_with_another_key_or_altered_is_refused() -> None:
    cookie = security.sign_session(session(), KEY)
    assert security.read_session(cookie, security.derive_key("other", "session"), now=0) is None
    body, _, signature = cookie.rpartition(".")
    other = security.sign_session(session(username="root"), b"whatever")
    forged = f"{other.rpartition('.')[0]}.{signature}"
    assert security.read_session(forged, KEY, now=0) is None
    for garbage in ("", "v1", "v1..", "v2.abc.def", f"{body}.", "x" * 5000, f"{body}.!!!"):
        assert security.read_session(garbage, KEY, now=0) is None


def test_an_expired_session_is_refused() -> None:
    data = session(expires_at=1000)
    cookie = security.sign_session(data, KEY)
    assert security.read_session(cookie, KEY, now=999) == data
    assert security.read_session(cookie, KEY, now=1000) is None


def test_sign_in_mints_a_fresh_nonce_each_time() -> None:
    first = security.SessionData.new(username="a", groups=(), mode="m", now=0, lifetime=1)
    second = security.SessionData.new(username="a", groups=(), mode="m", now=0, lifetime=1)
    assert first.nonce != second.nonce


def test_keys_differ_by_purpose() -> None:
    assert security.derive_key("s", "session") != security.derive_key("s", "csrf")


# ---------------------------------------------------------------- CSRF


def test_a_csrf_token_is_bound_to_its_session() -> None:
    key = security.derive_key("secret", "csrf")
    token = security.csrf_token(key, "nonce-1")
    assert security.csrf_valid(key, "nonce-1", token)
    assert not security.csrf_valid(key, "nonce-2", token)
    assert not security.csrf_valid(security.derive_key("other", "csrf"), "nonce-1", token)
    assert not security.csrf_valid(key, "nonce-1", None)
    assert not security.csrf_valid(key, "nonce-1", "")
    assert not security.csrf_valid(key, "nonce-1", token[:-1])


# ---------------------------------------------------------------- redirects and origins


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/integrations/x?commit=abc", "/integrations/x?commit=abc"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("integrations", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("/x\\y", "/"),
    ],
)
def test_only_local_paths_are_followed_after_sign_in(target: str | None, safe: str) -> None:
    assert security.safe_next(target) == safe


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "clef.example", True),
        ("https://clef.example", "internal:8000", True),  # the public URL
        ("https://clef.example:443", None, True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),  # the addressed host
        ("https://evil.example", "clef.example", False),
        ("https://clef.example.evil.example", "clef.example", False),
        ("http://clef.example", "internal:8000", False),  # scheme differs
        ("null", "clef.example", False),
        ("garbage", "clef.example", False),
    ],
)
def test_state_changing_requests_must_come_from_this_site(
    origin: str | None, host: str | None, allowed: bool
) -> None:
    assert security.origin_allowed(origin, host=host, public_url="https://clef.example") is allowed


# ---------------------------------------------------------------- trusted proxies

NETWORKS = proxies.parse_networks(["10.1.0.0/16", "127.0.0.1", "fd00::/8"])


@pytest.mark.parametrize(
    ("address", "trusted"),
    [
        ("10.1.2.3", True),
        ("10.2.0.1", False),
        ("127.0.0.1", True),
        ("127.0.0.2", False),
        ("::ffff:10.1.0.9", True),  # IPv4-mapped, from a dual-stack socket
        ("fd12::1", True),
        ("fe80::1%eth0", False),
        ("::1", False),
        ("testclient", False),
        ("", False),
        (None, False),
    ],
)
def test_only_the_configured_proxy_addresses_are_trusted(
    address: str | None, trusted: bool
) -> None:
    assert proxies.address_trusted(address, NETWORKS) is trusted


def test_no_configured_proxy_trusts_nobody() -> None:
    assert not proxies.address_trusted("127.0.0.1", ())


def test_proxy_addresses_are_read_comma_separated_and_checked() -> None:
    settings = Settings(proxy_trusted_addresses="10.0.0.1, 10.1.0.0/16 ,fd00::/8")
    assert settings.proxy_trusted_addresses == ("10.0.0.1/32", "10.1.0.0/16", "fd00::/8")
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings(proxy_trusted_addresses="10.0.0.300")
    assert isinstance(proxies.parse_networks(["10.0.0.1/32"])[0], ipaddress.IPv4Network)


def test_groups_headers_are_comma_separated() -> None:
    assert security.parse_groups("sre, dev,,  ops ") == ("sre", "dev", "ops")
    assert security.parse_groups(None) == ()


# ---------------------------------------------------------------- where an integration came from


def test_a_config_may_name_the_integration_resource_it_came_from() -> None:
    config = IntegrationConfig.model_validate(
        {"displayName": "X", "source": {"namespace": "team-a", "name": "payments.api"}}
    )
    assert config.source is not None
    assert (config.source.namespace, config.source.name) == ("team-a", "payments.api")
    assert config.document()["source"] == {"namespace": "team-a", "name": "payments.api"}
    assert IntegrationConfig.model_validate({"displayName": "X"}).source is None
    for bad in (
        {"namespace": "Team_A", "name": "x"},
        {"namespace": "a", "name": "-x"},
        {"namespace": "a"},
        {"namespace": "a", "name": "x", "kind": "1"},
        {"namespace": "a", "name": "x", "uid": "not a uid!"},
    ):
        with pytest.raises(ValueError, match="source"):
            IntegrationConfig.model_validate({"displayName": "X", "source": bad})


def test_the_operator_sends_the_integration_resource_a_config_came_from() -> None:
    spec = IntegrationSpec.model_validate({"displayName": "Payments", "apiKeys": [{"name": "ci"}]})
    source = IntegrationSource(namespace="team-a", name="payments")
    resolution = resolve(spec, [], [], [ApiKeyHash(name="ci", sha256="0" * 64)], source=source)
    assert resolution.config.document()["source"] == {"namespace": "team-a", "name": "payments"}
