"""Acknowledging an alert stops its mails, and nothing else."""

from __future__ import annotations

import pytest

from tests.notifications.conftest import ServiceFactory, notifications, wait_settled
from tests.support.contract import failing, passing, sha, spec_report
from tests.support.service import ServiceClient
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.postgres, pytest.mark.smtp]

OAUTH = "oauth/production"
DATABASE = "database/production"
TEAM = [{"name": "team", "to": ["team@acme.com"], "minSeverity": "info", "sendResolved": True}]


def test_acknowledging_silences_that_alert_only(
    mail_service: ServiceClient, smtp_server: SmtpServer
) -> None:
    service = mail_service
    (key,) = service.put_integration("acme", channels=TEAM)
    both = [failing("missing_keys", OAUTH), failing("missing_keys", DATABASE)]
    service.submit_ok(key, spec_report(sha("c1"), timestamp=1, policy_results=both))
    wait_settled(service)
    assert len(smtp_server.received) == 1

    silenced = next(a for a in service.alerts("acme") if a["scope"] == OAUTH)
    service.acknowledge(silenced["id"])
    before = service.read("/api/v1/integrations")["items"][0]

    service.submit_ok(key, spec_report(sha("c2"), timestamp=2, policy_results=both))
    wait_settled(service)
    first, second = smtp_server.received
    # The other alert is still mailed; the acknowledged one is not in the mail.
    assert "database/production" in second.text
    assert OAUTH not in second.text
    assert second.subject == "[Clef Pro] Acme: 1 critical, 1 recurring"
    assert OAUTH in first.text

    # Nothing else changed: still open, still counted, still tracked per commit.
    alert = next(a for a in service.alerts("acme") if a["id"] == silenced["id"])
    assert (alert["status"], alert["acknowledged"]) == ("open", True)
    assert alert["lastSeenCommit"] == sha("c2")
    after = service.read("/api/v1/integrations")["items"][0]
    assert after["openAlerts"] == before["openAlerts"] == {"info": 0, "warning": 0, "critical": 2}
    matrix = service.read("/api/v1/integrations/acme/matrix")
    assert matrix["violations"] == spec_report(sha("c2"), timestamp=2)["summary"]["violations"]

    # It resolves like any alert (silently: acknowledged), and a new failure mails again.
    service.submit_ok(
        key,
        spec_report(
            sha("c3"),
            timestamp=3,
            policy_results=[passing("missing_keys", OAUTH), failing("missing_keys", DATABASE)],
        ),
    )
    service.submit_ok(key, spec_report(sha("c4"), timestamp=4, policy_results=both))
    wait_settled(service)
    third, fourth = smtp_server.received[2:]
    assert OAUTH not in third.text  # its resolution is not sent: acknowledged
    assert OAUTH in fourth.text  # the fresh alert is new, unacknowledged
    assert fourth.subject == "[Clef Pro] Acme: 2 critical, 1 new, 1 recurring"
    resolved = next(a for a in service.alerts("acme") if a["id"] == silenced["id"])
    assert resolved["status"] == "resolved"
    assert resolved["resolvedByCommit"] == sha("c3")
    assert len(smtp_server.received) == 4
    assert len(notifications(service, "acme")) == 4


def test_an_alert_acknowledged_while_its_mail_waits_is_still_mailed_once(
    notifying_service: ServiceFactory, smtp_server: SmtpServer
) -> None:
    """The flag that counts is the one when the report was processed: a mail
    already committed is delivered, later reports are silent."""
    with notifying_service(
        smtp_host=smtp_server.host, smtp_port=smtp_server.port, notify_sender=False
    ) as service:
        (key,) = service.put_integration("acme", channels=TEAM)
        one = [failing("missing_keys", OAUTH)]
        service.submit_ok(key, spec_report(sha("c1"), timestamp=1, policy_results=one))
        (alert,) = service.alerts("acme")
        service.acknowledge(alert["id"])
        service.submit_ok(key, spec_report(sha("c2"), timestamp=2, policy_results=one))
        (queued,) = notifications(service, "acme")
        assert queued["status"] == "pending"
        assert queued["delivery"] == "disabled"
    with notifying_service(smtp_host=smtp_server.host, smtp_port=smtp_server.port) as service:
        wait_settled(service)
    (mail,) = smtp_server.received
    assert str(mail.message["X-Clef-Pro-Commit"]) == sha("c1")
