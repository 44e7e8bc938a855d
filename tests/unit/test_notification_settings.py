"""The notification settings: defaults that follow the TLS mode, secrets read from files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from clef_pro_api.settings import Settings


@pytest.mark.parametrize(
    ("options", "port"),
    [
        ({}, 25),
        ({"smtp_starttls": True}, 587),
        ({"smtp_tls": True}, 465),
        ({"smtp_port": 2525}, 2525),
    ],
)
def test_the_smtp_port_follows_the_tls_mode(options: dict[str, object], port: int) -> None:
    assert Settings(**options).smtp_port_value == port  # type: ignore[arg-type]


def test_the_password_file_wins_and_is_read_on_every_use(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("first\n")
    settings = Settings(smtp_password="from-env", smtp_password_file=secret)
    assert settings.smtp_password_value == "first"
    secret.write_text("rotated\n")
    assert settings.smtp_password_value == "rotated"
    assert Settings(smtp_password="from-env").smtp_password_value == "from-env"
    assert Settings().smtp_password_value is None


@pytest.mark.parametrize(
    "options",
    [
        {"smtp_tls": True, "smtp_starttls": True},
        {"notify_lease_seconds": 30, "smtp_timeout_seconds": 30},
        {"notify_retry_base_seconds": 10, "notify_retry_max_seconds": 5},
        {"smtp_from": "not an address"},
        {"smtp_from": "a@b.example\r\nBcc: someone@else.example"},
    ],
)
def test_contradictory_settings_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**options)  # type: ignore[arg-type]


def test_a_refused_setting_never_repeats_the_input() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(smtp_password="hunter2-secret", smtp_tls=True, smtp_starttls=True)
    assert "hunter2-secret" not in str(refused.value)
