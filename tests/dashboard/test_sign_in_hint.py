"""The sign-in page says where the admin token is, however it is configured,
and never shows the token."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.dashboard.conftest import Opener
from tests.support.service import ADMIN_TOKEN


def test_a_token_file_is_named_by_its_path(open_dashboard: Opener, tmp_path: Path) -> None:
    token_file = tmp_path / "secrets" / "admin"
    token_file.parent.mkdir()
    token_file.write_text("file-token-0123456789abcdef0123")
    with open_dashboard(admin_token=None, admin_token_file=token_file) as http:
        page = http.get("/sign-in").text
    assert str(token_file) in page
    assert "CLEF_PRO_ADMIN_TOKEN_FILE" in page
    assert "file-token" not in page


def test_the_embedded_default_points_at_its_data_directory(
    open_dashboard: Opener, tmp_path: Path
) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text("embedded-token-0123456789abcdef")
    with open_dashboard(
        admin_token=None, admin_token_file=token_file, data_dir=tmp_path, database_url=None
    ) as http:
        page = http.get("/sign-in").text
    assert f"cat {token_file}" in page
    assert "data directory" in page
    assert "embedded-token" not in page


def test_the_charts_hint_is_shown_as_given(open_dashboard: Opener) -> None:
    hint = "kubectl -n clef-pro get secret clef-pro-admin-token -o jsonpath='{.data.token}'"
    with open_dashboard(admin_token_hint=hint) as http:
        page = http.get("/sign-in").text
    assert "kubectl -n clef-pro get secret clef-pro-admin-token" in page
    assert ADMIN_TOKEN not in page


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (SecretStr(ADMIN_TOKEN), "value of its <code>CLEF_PRO_ADMIN_TOKEN</code>"),
        (None, "has no admin token"),
    ],
)
def test_a_variable_or_no_token_at_all_is_said_so(
    open_dashboard: Opener, token: SecretStr | None, expected: str
) -> None:
    with open_dashboard(admin_token=token) as http:
        page = http.get("/sign-in").text
    assert expected in page
    assert ADMIN_TOKEN not in page
