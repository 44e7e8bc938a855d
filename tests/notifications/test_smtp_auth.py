"""SMTP AUTH with the password in a mounted file, re-read on use, never logged."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.notifications.conftest import ServiceFactory, notifications, wait_settled
from tests.support.contract import failing, sha, spec_report
from tests.support.smtp import SmtpServer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.smtp,
    # Plain AUTH is what we test, on loopback; TLS to a relay is the deployment's choice.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

PASSWORD = "smtp-pa55word-do-not-log"
TEAM = [{"name": "team", "to": ["team@acme.com"]}]


def test_password_file_wins_and_a_rotation_takes_effect_without_restart(
    notifying_service: ServiceFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    smtp = SmtpServer(credentials=("clef", PASSWORD)).start()
    password_file = tmp_path / "smtp-password"
    password_file.write_text("an-old-password\n")
    try:
        with (
            caplog.at_level(logging.DEBUG),
            notifying_service(
                smtp_host=smtp.host,
                smtp_port=smtp.port,
                smtp_username="clef",
                smtp_password="ignored-when-a-file-is-set",
                smtp_password_file=password_file,
                notify_max_attempts=1000,
            ) as service,
        ):
            (key,) = service.put_integration("acme", channels=TEAM)
            report = spec_report(
                sha("c1"), timestamp=1, policy_results=[failing("missing_keys", "oauth/*")]
            )
            service.submit_ok(key, report)
            # The old password is refused: the message retries, it is not dead.
            for _ in range(200):
                (item,) = notifications(service, "acme")
                if item["attempts"] >= 2:
                    break
                time.sleep(0.05)
            assert item["status"] in ("retrying", "sending")
            assert smtp.received == []

            password_file.write_text(PASSWORD + "\n")  # the Secret is rotated
            wait_settled(service)
            (mail,) = smtp.wait_for(1)
            (item,) = notifications(service, "acme")
            assert item["status"] == "sent"
    finally:
        smtp.stop()
    assert mail.recipients == ("team@acme.com",)
    assert PASSWORD not in caplog.text
    assert "an-old-password" not in caplog.text
