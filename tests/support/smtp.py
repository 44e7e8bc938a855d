"""A real SMTP server for the tests: aiosmtpd on a loopback port, keeping what it receives.

The notification tests count mails where a mail server would see them, so
nothing about SMTP is mocked: the service speaks to this server exactly as it
would to a relay. The server can be started late, stopped and started again on
the same port (an outage), and can require AUTH.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.postgres import free_port
from tests.support.waiting import wait_for


@dataclass(frozen=True)
class ReceivedMail:
    envelope_from: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()
        return content

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


class _Sink:
    """The aiosmtpd handler: keeps every mail, refusing only the ``refused`` addresses."""

    def __init__(self, refused: frozenset[str]) -> None:
        self.received: list[ReceivedMail] = []
        self.lock = threading.Lock()
        self.refused = refused

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's naming
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's naming
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _password_check(username: str, password: str) -> Callable[..., AuthResult]:
    def authenticate(
        _server: Any, _session: Any, _envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            mechanism in ("LOGIN", "PLAIN")
            and isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


class SmtpServer:
    """aiosmtpd on ``host`` (loopback unless told), ``port``; what it received
    survives restarts."""

    def __init__(
        self,
        port: int | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        refused: frozenset[str] = frozenset(),
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self._sink = _Sink(refused)
        self._credentials = credentials
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self._credentials is not None:
            options = {
                "authenticator": _password_check(*self._credentials),
                "auth_required": True,
                "auth_require_tls": False,
            }
        controller = Controller(self._sink, hostname=self.host, port=self.port, **options)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[ReceivedMail]:
        with self._sink.lock:
            return list(self._sink.received)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[ReceivedMail]:
        """At least ``count`` mails, polling briefly; fails with what did arrive."""
        try:
            return wait_for(
                lambda: r if len(r := self.received) >= count else None,
                timeout=timeout,
                interval=0.02,
            )
        except AssertionError:
            received = self.received
            raise AssertionError(
                f"expected {count} mails within {timeout}s, got {len(received)}: "
                f"{[mail.subject for mail in received]}"
            ) from None

    def env(self) -> dict[str, str]:
        """Settings that point a ``clef-pro serve`` process at this server."""
        return {"CLEF_PRO_SMTP_HOST": self.host, "CLEF_PRO_SMTP_PORT": str(self.port)}
