"""The embedded default (SQLite, one process) delivers notifications too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notifications.conftest import FAST_ENV
from tests.support.contract import failing, sha, spec_report
from tests.support.server import start_server
from tests.support.service import ADMIN_TOKEN, ServiceClient
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.server


@pytest.mark.smtp
def test_sqlite_queues_claims_and_sends(tmp_path: Path, smtp_server: SmtpServer) -> None:
    server = start_server(
        {
            "CLEF_PRO_DATA_DIR": str(tmp_path),
            "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN,
            **FAST_ENV,
            **smtp_server.env(),
        },
        tmp_path / "server.log",
    )
    try:
        with server.client() as http:
            service = ServiceClient(http)
            channels = [{"name": "team", "to": ["team@acme.com"]}]
            (key,) = service.put_integration("acme", channels=channels)
            for index in range(1, 4):
                service.submit_ok(
                    key,
                    spec_report(
                        sha(f"c{index}"),
                        timestamp=index,
                        policy_results=[failing("missing_keys", "oauth/production")],
                    ),
                )
            mails = smtp_server.wait_for(3)
    finally:
        server.stop()
    assert (tmp_path / "clef-pro.db").exists()
    assert len({mail.message_id for mail in mails}) == 3
    assert all(mail.message_id.endswith("@clef.example>") for mail in mails)


def test_serve_says_at_start_up_that_email_is_not_sent(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server({"CLEF_PRO_DATA_DIR": str(tmp_path)}, log)
    server.stop()
    assert "notifications are queued but not sent: CLEF_PRO_SMTP_HOST is not set" in (
        log.read_text()
    )
