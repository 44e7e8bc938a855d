"""The spec's notification table, end to end over HTTP, counted at a real SMTP server."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.notifications.conftest import notifications, wait_settled
from tests.support.contract import failing, passing, sha, spec_report
from tests.support.service import ServiceClient
from tests.support.smtp import ReceivedMail, SmtpServer

pytestmark = [pytest.mark.postgres, pytest.mark.smtp]

OAUTH = "oauth/production"
API_KEYS = "api-keys/production"
CHANNELS = [
    # The spec's example channels: one for critical only, one from warning up.
    {"name": "security", "type": "email", "to": ["security@acme.com"], "minSeverity": "critical"},
    {"name": "dev-lead", "type": "email", "to": ["dev-lead@acme.com"], "minSeverity": "warning"},
    # Opted in to resolutions (which acknowledged alerts still never send).
    {"name": "audit", "to": ["audit@acme.com"], "minSeverity": "info", "sendResolved": True},
]


#: The seed's commits. ``sha()`` maps letters past f onto hex digits, so "jkl"
#: would be "abc" again: spell them out.
SEED = {"abc": "abc1", "def": "def2", "ghi": "0713", "jkl": "0a54", "mno": "0d65"}


def commit(label: str) -> str:
    return sha(SEED.get(label, label))


def submit(service: ServiceClient, key: str, label: str, ts: int, results: list[Any]) -> None:
    service.submit_ok(key, spec_report(commit(label), timestamp=ts, policy_results=results))


def by_recipient(mails: list[ReceivedMail]) -> dict[str, list[ReceivedMail]]:
    grouped: dict[str, list[ReceivedMail]] = defaultdict(list)
    for mail in mails:
        for recipient in mail.recipients:
            grouped[recipient].append(mail)
    return grouped


def rules_in_order(mail: ReceivedMail) -> list[str]:
    """The rule ids a mail lists, in the order it lists them."""
    return [
        line.split("(")[-1].rstrip(")")
        for line in mail.text.splitlines()
        if line.strip().startswith("[")
    ]


def commits(mails: list[ReceivedMail]) -> list[str]:
    return [str(mail.message["X-Clef-Pro-Commit"]) for mail in mails]


def test_the_seed_lifecycle_sends_exactly_the_mails_of_the_table(
    mail_service: ServiceClient, smtp_server: SmtpServer
) -> None:
    service = mail_service
    (key,) = service.put_integration("acme", channels=CHANNELS)
    both = [failing("missing_keys", OAUTH, "critical"), failing("rotation", API_KEYS, "warning")]

    submit(service, key, "abc", 1, both)  # both open: new
    submit(service, key, "def", 2, both)  # both recurring, unacknowledged
    wait_settled(service)
    missing_keys = next(a for a in service.alerts("acme") if a["ruleId"] == "missing_keys")
    service.acknowledge(missing_keys["id"])
    submit(service, key, "ghi", 3, both)  # missing_keys recurring but acknowledged
    fixed = [passing("missing_keys", OAUTH, "critical"), failing("rotation", API_KEYS, "warning")]
    submit(service, key, "jkl", 4, fixed)  # missing_keys resolved (acknowledged: silent)
    submit(service, key, "mno", 5, both)  # missing_keys fails again: a fresh alert

    wait_settled(service)
    mails = smtp_server.received
    grouped = by_recipient(mails)
    # security (critical only): never the warning, nothing once acknowledged.
    assert commits(grouped["security@acme.com"]) == [commit(c) for c in ("abc", "def", "mno")]
    assert [rules_in_order(m) for m in grouped["security@acme.com"]] == [["missing_keys"]] * 3
    # dev-lead (warning and up): every report, the acknowledged alert left out.
    assert commits(grouped["dev-lead@acme.com"]) == [
        commit(c) for c in ("abc", "def", "ghi", "jkl", "mno")
    ]
    assert [rules_in_order(m) for m in grouped["dev-lead@acme.com"]] == [
        ["missing_keys", "rotation"],
        ["missing_keys", "rotation"],
        ["rotation"],
        ["rotation"],
        ["missing_keys", "rotation"],  # new first, then recurring
    ]
    # audit opted in to resolutions, but the resolved alert was acknowledged.
    assert [rules_in_order(m) for m in grouped["audit@acme.com"]] == [
        rules_in_order(m) for m in grouped["dev-lead@acme.com"]
    ]
    assert len(mails) == 3 + 5 + 5
    assert len({mail.message_id for mail in mails}) == len(mails)
    for mail in mails:
        assert len(mail.recipients) == 1
        assert mail.envelope_from == "alerts@clef.example"

    last = grouped["dev-lead@acme.com"][-1]
    assert last.subject == "[Clef Pro] Acme: 1 critical, 1 new, 1 recurring"
    assert last.text.index("New alerts (1)") < last.text.index("Still failing (1)")
    assert "https://clef.example/integrations/acme" in last.text
    assert 'href="https://clef.example/integrations/acme/alerts/' in last.html

    # The read API agrees: every message sent once, with the Message-ID the server saw.
    listed = notifications(service, "acme")
    assert len(listed) == len(mails)
    assert {item["status"] for item in listed} == {"sent"}
    assert {item["messageId"] for item in listed} == {mail.message_id for mail in mails}
    assert all(item["attempts"] == 1 and item["lastError"] is None for item in listed)


def test_per_alert_view_shows_each_channel(
    mail_service: ServiceClient, smtp_server: SmtpServer
) -> None:
    service = mail_service
    (key,) = service.put_integration("acme", channels=CHANNELS)
    submit(service, key, "abc", 1, [failing("rotation", API_KEYS, "warning")])
    submit(service, key, "def", 2, [failing("rotation", API_KEYS, "warning")])
    wait_settled(service)
    (alert,) = service.alerts("acme")
    view = service.read(f"/api/v1/alerts/{alert['id']}/notifications")
    summary = {entry["channel"]["name"]: entry for entry in view["channels"]}
    assert set(summary) == {"dev-lead", "audit"}  # security is critical only
    for entry in summary.values():
        assert entry["latestStatus"] == "sent"
        assert entry["counts"] == {"sent": 2}
    assert [item["alerts"][0]["event"] for item in view["items"]] == ["recurring"] * 2 + [
        "opened"
    ] * 2
    assert len(smtp_server.received) == 4


def test_a_channel_opted_in_hears_of_resolutions(
    mail_service: ServiceClient, smtp_server: SmtpServer
) -> None:
    service = mail_service
    (key,) = service.put_integration("acme", channels=CHANNELS)
    submit(service, key, "abc", 1, [failing("rotation", API_KEYS, "warning")])
    submit(service, key, "def", 2, [passing("rotation", API_KEYS, "warning")])
    wait_settled(service)
    grouped = by_recipient(smtp_server.received)
    assert commits(grouped["dev-lead@acme.com"]) == [commit("abc")]
    assert commits(grouped["audit@acme.com"]) == [commit("abc"), commit("def")]
    resolved = grouped["audit@acme.com"][1]
    assert resolved.subject == "[Clef Pro] Acme: 1 resolved"
    assert "Resolved (1)" in resolved.text


def test_a_replay_or_a_changed_resubmission_sends_nothing_more(
    mail_service: ServiceClient, smtp_server: SmtpServer
) -> None:
    service = mail_service
    (key,) = service.put_integration("acme", channels=CHANNELS[1:2])
    report = spec_report(commit("abc"), timestamp=1, policy_results=[failing("rotation", API_KEYS)])
    service.submit_ok(key, report)
    service.submit_ok(key, report)  # a retry of the same body
    changed = spec_report(
        commit("abc"),
        timestamp=1,
        policy_results=[failing("rotation", API_KEYS), failing("missing_keys", OAUTH)],
    )
    service.submit_ok(key, changed)  # the same commit, corrected
    wait_settled(service)
    assert len(smtp_server.received) == 1
    assert len(notifications(service, "acme")) == 1


def test_a_batch_notifies_for_its_head_only(
    mail_service: ServiceClient, smtp_server: SmtpServer
) -> None:
    service = mail_service
    (key,) = service.put_integration("acme", channels=CHANNELS[1:2])
    reports = [
        spec_report(commit(f"b{i}"), timestamp=i, policy_results=[failing(f"rule_{i}", OAUTH)])
        for i in range(1, 4)
    ]
    assert service.batch(key, reports).status_code == 200
    wait_settled(service)
    (mail,) = smtp_server.received
    assert rules_in_order(mail) == ["rule_3"]
