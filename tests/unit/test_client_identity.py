"""Who the client is behind a proxy (the address rate limits count, whether it
came over https), and which admin tokens are too weak to start with. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.requests import Request

from clef_pro_api import proxies
from clef_pro_api.app import WeakAdminToken, create_app
from clef_pro_api.settings import Settings

PROXY = proxies.parse_networks(["10.0.0.0/24"])


def request(peer: str, scheme: str = "http", **headers: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": scheme,
            "path": "/",
            "query_string": b"",
            "server": ("clef.example", 80),
            "client": (peer, 40000),
            "headers": [
                (name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()
            ],
        }
    )


def test_the_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    forwarded = {"x_forwarded_for": "198.51.100.7"}
    assert proxies.client_address(request("203.0.113.9", **forwarded), PROXY) == "203.0.113.9"
    assert proxies.client_address(request("10.0.0.5", **forwarded), PROXY) == "198.51.100.7"
    assert proxies.client_address(request("10.0.0.5"), PROXY) == "10.0.0.5"


def test_a_client_cannot_pick_its_address_by_writing_x_forwarded_for_itself() -> None:
    # The client wrote "1.2.3.4"; the trusted proxies appended what they saw.
    chain = request("10.0.0.5", x_forwarded_for="1.2.3.4, 198.51.100.7, 10.0.0.6")
    assert proxies.client_address(chain, PROXY) == "198.51.100.7"


def test_https_is_believed_from_the_connection_or_a_trusted_proxy_only() -> None:
    assert proxies.is_https(request("203.0.113.9", scheme="https"), PROXY)
    assert proxies.is_https(request("10.0.0.5", x_forwarded_proto="https"), PROXY)
    assert not proxies.is_https(request("203.0.113.9", x_forwarded_proto="https"), PROXY)
    assert not proxies.is_https(request("10.0.0.5", x_forwarded_proto="http"), PROXY)
    assert not proxies.is_https(request("10.0.0.5"), ())


@pytest.mark.parametrize(
    "token",
    [
        "secret",
        "hunter2!",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "abababababababababababababab",
    ],
)
def test_a_weak_admin_token_is_refused_naming_its_setting(token: str, tmp_path: Path) -> None:
    settings = Settings(admin_token=SecretStr(token), data_dir=tmp_path)
    with pytest.raises(WeakAdminToken, match="CLEF_PRO_ADMIN_TOKEN is too weak") as refused:
        create_app(settings)
    assert token not in str(refused.value)
    token_file = tmp_path / "admin-token"
    token_file.write_text(token)
    with pytest.raises(WeakAdminToken, match="CLEF_PRO_ADMIN_TOKEN_FILE is too weak"):
        create_app(Settings(admin_token_file=token_file, data_dir=tmp_path))


def test_a_random_admin_token_is_strong_enough(tmp_path: Path) -> None:
    settings = Settings(
        admin_token=SecretStr("kX3v9QmZ2pL7wR4tY8nB1cD6fG0hJ5sA"), data_dir=tmp_path
    )
    assert settings.admin_token_weakness() is None
    assert Settings(data_dir=tmp_path).admin_token_weakness() is None
