"""Who may see the dashboard: sign-in modes, sessions, CSRF, trusted proxies."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from clef_pro_api.dashboard import security
from clef_pro_api.dashboard.auth import Gate
from clef_pro_api.settings import Settings
from tests.dashboard.conftest import Opener, csrf_of, sign_in
from tests.support.dashboard import HEAD_COMMIT, Seeded, seed
from tests.support.server import ServerProcess
from tests.support.service import ADMIN_TOKEN, ServiceClient


def pages(seeded: Seeded) -> list[str]:
    alert = seeded.alerts["missing_keys"]
    return [
        "/",
        "/?sort=name&q=pay",
        "/integrations/payments",
        f"/integrations/payments?commit={HEAD_COMMIT}",
        "/integrations/payments/alerts",
        "/integrations/payments/alerts?status=resolved",
        f"/integrations/payments/alerts/{alert}",
        f"/integrations/payments/alerts/{alert}/acknowledge",
        "/integrations/no-such-integration",
    ]


def test_a_signed_out_visitor_is_sent_to_sign_in_from_every_page(
    http: TestClient, seeded: Seeded
) -> None:
    for page in pages(seeded):
        response = http.get(page)
        assert response.status_code == 303, page
        location = response.headers["location"]
        assert location.startswith("/sign-in?next=/"), (page, location)
        assert "Payments" not in response.text
    # ... and the sign-in page shows nothing but the sign-in form.
    page = http.get("/sign-in").text
    assert 'name="token"' in page
    assert "Payments" not in page
    assert "payments" not in page


def test_a_signed_out_post_changes_nothing(http: TestClient, seeded: Seeded) -> None:
    alert = seeded.alerts["missing_keys"]
    response = http.post(
        f"/integrations/payments/alerts/{alert}/acknowledge", data={"csrf": "anything"}
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")
    assert ServiceClient(http).alerts("payments", "open")[0]["acknowledged"] is False


def test_signing_in_with_the_admin_token_opens_a_signed_httponly_session(
    http: TestClient, seeded: Seeded
) -> None:
    wrong = sign_in(http, token="not-the-token")
    assert wrong.status_code == 401
    assert "not this service's admin token" in html.unescape(wrong.text)
    assert security.SESSION_COOKIE not in wrong.headers.get("set-cookie", "")

    response = sign_in(http, next_path="/integrations/payments")
    assert response.status_code == 303
    assert response.headers["location"] == "/integrations/payments"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{security.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # public_url is http:// here
    assert ADMIN_TOKEN not in cookie

    page = http.get("/integrations/payments")
    assert page.status_code == 200
    assert "Payments API" in page.text
    assert ">admin<" in page.text


def test_the_cookie_is_secure_when_the_dashboard_is_served_over_https(
    open_dashboard: Opener,
) -> None:
    with open_dashboard(public_url="https://clef.example") as http:
        cookie = sign_in(http).headers["set-cookie"]
    assert "Secure" in cookie


def test_sign_in_only_returns_to_pages_of_this_site(http: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"):
        http.cookies.clear()
        assert sign_in(http, next_path=target).headers["location"] == "/"


def test_a_sign_in_posted_from_another_site_is_refused(http: TestClient) -> None:
    response = http.post(
        "/sign-in",
        data={"token": ADMIN_TOKEN, "next": "/"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


def test_forged_tampered_and_expired_sessions_are_not_sessions(
    http: TestClient, settings: Settings, seeded: Seeded
) -> None:
    gate = Gate(settings, sessions=http.app.state.sessions)  # type: ignore[attr-defined]
    valid = security.SessionData.new(
        username="admin", groups=(), mode="admin-token", now=time.time(), lifetime=600
    )
    # Signed with another key.
    other = Gate(
        settings.model_copy(update={"session_secret": SecretStr("another-key-entirely")}),
        sessions=gate._sessions,
    )
    http.cookies.set(security.SESSION_COOKIE, other.cookie_value(valid))
    assert http.get("/").status_code == 303
    # Tampered: a different user under the original signature.
    _, _, signature = gate.cookie_value(valid).rpartition(".")
    forged = security.sign_session(
        security.SessionData("root", (), "admin-token", valid.expires_at, valid.nonce), b"k"
    )
    http.cookies.set(security.SESSION_COOKIE, f"{forged.rpartition('.')[0]}.{signature}")
    assert http.get("/").status_code == 303
    # Expired.
    expired = security.SessionData.new(
        username="admin", groups=(), mode="admin-token", now=time.time() - 7200, lifetime=600
    )
    http.cookies.set(security.SESSION_COOKIE, gate.cookie_value(expired))
    assert http.get("/").status_code == 303


def test_rotating_the_admin_token_ends_every_session(
    open_dashboard: Opener, tmp_path: Path
) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text("first-admin-token-0123456789")
    with open_dashboard(admin_token=None, admin_token_file=token_file) as http:
        assert sign_in(http, token="first-admin-token-0123456789").status_code == 303
        assert http.get("/").status_code == 200
        token_file.write_text("second-admin-token-0123456789")
        assert http.get("/").status_code == 303


def test_acknowledging_needs_the_sessions_csrf_token(http: TestClient, seeded: Seeded) -> None:
    alert = seeded.alerts["missing_keys"]
    url = f"/integrations/payments/alerts/{alert}/acknowledge"
    sign_in(http)
    confirm = http.get(url)
    assert confirm.status_code == 200
    token = csrf_of(confirm.text)

    for data, headers in (
        ({}, {}),
        ({"csrf": ""}, {}),
        ({"csrf": token[:-2] + "xx"}, {}),
        ({"csrf": token}, {"Origin": "https://evil.example"}),
        ({"csrf": token}, {"Origin": "null"}),
    ):
        refused = http.post(url, data=data, headers=headers)
        assert refused.status_code == 403, (data, headers)
        assert "Request refused" in refused.text
    assert ServiceClient(http).alerts("payments", "open")[0]["acknowledged"] is False

    done = http.post(
        url,
        data={"csrf": token, "return_to": "/integrations/payments/alerts?status=open"},
        headers={"Origin": "http://testserver"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/integrations/payments/alerts?status=open#alert-{alert}"
    acknowledged = next(
        a for a in ServiceClient(http).alerts("payments", "open") if a["id"] == alert
    )
    assert acknowledged["acknowledged"] is True
    assert acknowledged["acknowledgedBy"] == "admin"
    assert acknowledged["status"] == "open"


def test_a_csrf_token_is_only_good_for_its_own_session(http: TestClient, seeded: Seeded) -> None:
    alert = seeded.alerts["missing_keys"]
    url = f"/integrations/payments/alerts/{alert}/acknowledge"
    sign_in(http)
    old_token = csrf_of(http.get(url).text)
    http.cookies.clear()
    sign_in(http)
    assert http.post(url, data={"csrf": old_token}).status_code == 403


def test_signing_out_needs_csrf_and_ends_the_session(http: TestClient, seeded: Seeded) -> None:
    sign_in(http)
    page = http.get("/").text
    assert http.post("/sign-out", data={}).status_code == 403
    response = http.post("/sign-out", data={"csrf": csrf_of(page)})
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    assert 'clef_pro_session=""' in response.headers["set-cookie"]
    assert http.get("/").status_code == 303


def test_the_session_is_not_a_credential_of_the_json_api(http: TestClient, seeded: Seeded) -> None:
    sign_in(http)
    assert http.get("/api/v1/integrations").status_code == 401


def test_pages_carry_security_headers(http: TestClient, seeded: Seeded) -> None:
    signed_out = http.get("/sign-in?next=/x")
    sign_in(http)
    for response in (signed_out, http.get("/"), http.get("/integrations/x")):
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_static_files_are_served_without_a_session(http: TestClient) -> None:
    css = http.get("/static/dashboard.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
    assert http.get("/static/dashboard.js").status_code == 200


# ---------------------------------------------------------------- proxy mode

PROXY = {
    "dashboard_auth": "proxy",
    "proxy_trusted_addresses": ("10.1.0.0/16", "127.0.0.1/32"),
}


def test_proxy_headers_from_a_trusted_address_sign_the_user_in(open_dashboard: Opener) -> None:
    with open_dashboard(address="10.1.2.3", **PROXY) as http:
        seeded = seed(ServiceClient(http))
        headers = {"X-Forwarded-User": "jane@acme.example", "X-Forwarded-Groups": "sre,dev"}
        page = http.get("/", headers=headers)
        assert page.status_code == 200
        assert "jane@acme.example" in page.text
        assert "Payments API" in page.text
        # No sign-out of ours: the proxy owns the session.
        assert "/sign-out" not in page.text

        alert = seeded.alerts["missing_keys"]
        url = f"/integrations/payments/alerts/{alert}/acknowledge"
        token = csrf_of(http.get(url, headers=headers).text)
        assert http.post(url, data={"csrf": token}, headers=headers).status_code == 303
        acknowledged = next(
            a for a in ServiceClient(http).alerts("payments", "open") if a["id"] == alert
        )
        assert acknowledged["acknowledgedBy"] == "jane@acme.example"


@pytest.mark.parametrize("address", ["203.0.113.9", "10.2.0.1", "testclient", "::1"])
def test_proxy_headers_from_anyone_else_are_ignored(open_dashboard: Opener, address: str) -> None:
    with open_dashboard(address=address, **PROXY) as http:
        seed(ServiceClient(http))
        headers = {"X-Forwarded-User": "mallory", "X-Forwarded-Groups": "admins"}
        response = http.get("/integrations/payments", headers=headers)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in")
        sign_in_page = http.get("/sign-in", headers=headers)
        assert sign_in_page.status_code == 401
        assert "authentication proxy" in sign_in_page.text
        assert "mallory" not in sign_in_page.text
        assert "Payments" not in sign_in_page.text


def test_a_trusted_proxy_request_without_a_user_is_signed_out(open_dashboard: Opener) -> None:
    with open_dashboard(address="127.0.0.1", **PROXY) as http:
        assert http.get("/").status_code == 303
        assert http.get("/", headers={"X-Forwarded-User": "  "}).status_code == 303


def test_proxy_mode_ignores_session_cookies_and_admin_tokens(open_dashboard: Opener) -> None:
    with open_dashboard(address="203.0.113.9", **PROXY) as http:
        response = sign_in(http)
        assert response.status_code == 401
        assert "set-cookie" not in response.headers


@pytest.mark.server
def test_a_served_proxy_mode_trusts_the_connecting_peer_not_x_forwarded_for(
    start_service: Callable[..., ServerProcess],
) -> None:
    """uvicorn would replace the peer with what X-Forwarded-For names: in
    proxy mode ``clef-pro serve`` turns that off, so neither can a trusted
    proxy's users be refused, nor anyone claim to be the proxy."""
    trusted = start_service(
        CLEF_PRO_DASHBOARD_AUTH="proxy", CLEF_PRO_PROXY_TRUSTED_ADDRESSES="127.0.0.1"
    )
    with trusted.client() as http:
        page = http.get(
            "/", headers={"X-Forwarded-User": "jane", "X-Forwarded-For": "198.51.100.7"}
        )
        assert page.status_code == 200
        assert "jane" in page.text
    untrusted = start_service(
        CLEF_PRO_DASHBOARD_AUTH="proxy", CLEF_PRO_PROXY_TRUSTED_ADDRESSES="10.9.0.0/16"
    )
    with untrusted.client() as http:
        response = http.get(
            "/",
            headers={"X-Forwarded-User": "mallory", "X-Forwarded-For": "10.9.0.1"},
            follow_redirects=False,
        )
        assert response.status_code == 303
