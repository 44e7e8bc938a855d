"""Sessions end on the server, sign-in guesses are held back, and the session
cookie is ``Secure`` whenever the browser reached us over https."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from clef_pro_api.dashboard import security
from tests.dashboard.conftest import Opener, csrf_of, sign_in
from tests.support.dashboard import Seeded

PROXY = ("10.0.0.0/24",)


def test_signing_out_ends_the_session_on_the_server(http: TestClient, seeded: Seeded) -> None:
    sign_in(http)
    cookie = http.cookies[security.SESSION_COOKIE]
    page = http.get("/").text
    assert http.post("/sign-out", data={"csrf": csrf_of(page)}).status_code == 303
    # Someone who copied the cookie before the sign-out gets nothing with it.
    http.cookies.set(security.SESSION_COOKIE, cookie)
    assert http.get("/").status_code == 303
    assert http.get("/integrations/payments").status_code == 303


def test_signing_out_ends_only_that_session(open_dashboard: Opener, seeded: Seeded) -> None:
    with open_dashboard() as laptop:
        sign_in(laptop)
        with TestClient(laptop.app, follow_redirects=False) as phone:
            sign_in(phone)
            laptop.post("/sign-out", data={"csrf": csrf_of(laptop.get("/").text)})
            assert laptop.get("/").status_code == 303
            assert phone.get("/").status_code == 200


def test_a_session_ended_by_rotating_the_admin_token_stays_ended(
    open_dashboard: Opener, tmp_path: Path
) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text("first-admin-token-0123456789")
    with open_dashboard(admin_token=None, admin_token_file=token_file) as http:
        assert sign_in(http, token="first-admin-token-0123456789").status_code == 303
        old_cookie = http.cookies[security.SESSION_COOKIE]
        token_file.write_text("second-admin-token-0123456789")
        assert http.get("/").status_code == 303
        # Rotating back does not bring the old session back to life.
        token_file.write_text("first-admin-token-0123456789")
        http.cookies.set(security.SESSION_COOKIE, old_cookie)
        assert http.get("/").status_code == 303


def test_wrong_sign_ins_are_held_back_per_client_address(open_dashboard: Opener) -> None:
    with open_dashboard(auth_failure_burst=3, proxy_trusted_addresses=PROXY) as http:
        http.headers["X-Forwarded-For"] = "203.0.113.7"
        for _ in range(3):
            assert sign_in(http, token="guess-0123456789abcdefghij").status_code == 401
        held = sign_in(http, token="guess-0123456789abcdefghij")
        assert held.status_code == 429
        assert int(held.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins" in held.text
        # Even the right token waits: a lucky guess is not told apart.
        assert sign_in(http).status_code == 429
        assert security.SESSION_COOKIE not in http.cookies
    # The limit counts addresses behind the trusted proxy, not the proxy itself.
    with open_dashboard(
        address="10.0.0.5", auth_failure_burst=3, proxy_trusted_addresses=PROXY
    ) as http:
        for _ in range(3):
            sign_in(http, token="guess-0123456789abcdefghij")
        assert sign_in(http).status_code == 429
        http.headers["X-Forwarded-For"] = "198.51.100.20"
        assert sign_in(http).status_code == 303


def test_the_cookie_is_secure_behind_a_trusted_https_proxy(open_dashboard: Opener) -> None:
    with open_dashboard(address="10.0.0.5", proxy_trusted_addresses=PROXY) as http:
        cookie = http.post(
            "/sign-in",
            data={"token": "test-admin-token-0123456789abcdef", "next": "/"},
            headers={"X-Forwarded-Proto": "https"},
        ).headers["set-cookie"]
        assert "Secure" in cookie
        # (An http client keeps a Secure cookie to itself: this sign-out has no session.)
        signed_out = http.post("/sign-out", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in signed_out.headers["set-cookie"]
    # From a peer that is not a trusted proxy the header proves nothing.
    with open_dashboard(address="203.0.113.9", proxy_trusted_addresses=PROXY) as http:
        cookie = http.post(
            "/sign-in",
            data={"token": "test-admin-token-0123456789abcdef", "next": "/"},
            headers={"X-Forwarded-Proto": "https"},
        ).headers["set-cookie"]
        assert "Secure" not in cookie


def test_the_cookie_is_secure_when_the_request_itself_is_https(open_dashboard: Opener) -> None:
    with open_dashboard() as http:
        http.base_url = http.base_url.copy_with(scheme="https")
        cookie = sign_in(http).headers["set-cookie"]
    assert "Secure" in cookie
