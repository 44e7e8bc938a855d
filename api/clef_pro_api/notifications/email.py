"""Email delivery through aiosmtplib.

One message per (report, channel), to every address of the channel, with a
plain-text and an HTML part and the notification's stable ``Message-ID``.

Connections are reused: a sender delivering a batch would otherwise pay a TCP
(and TLS, and AUTH) handshake per mail. An idle connection is dropped after a
few seconds, and a send that finds its reused connection closed by the server
is tried once more on a fresh one before it counts as a failed attempt. The
password is read when a connection is opened, from its file if one is set, so
a rotated Secret is picked up without a restart. It is never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, parseaddr
from typing import ClassVar, Final

import aiosmtplib

from clef_pro.domain.config import EmailChannel
from clef_pro_api.notifications.backend import Delivery, DeliveryError
from clef_pro_api.notifications.render import Links, render_email

log = logging.getLogger(__name__)

#: Reuse a connection only if it has been idle for less than this (servers
#: close idle sessions; most allow a minute or more).
IDLE_SECONDS: Final = 10.0
#: 5yz replies (RFC 5321) are permanent: the message is marked dead at once.
#: Not these, which are about the sender's own configuration (authentication,
#: the From address): fixing the configuration must let queued mail through.
_CONFIGURATION_CODES: Final = frozenset({530, 534, 535, 538})


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None
    #: Reads the password when a connection opens (from its file, if one is set).
    password: Callable[[], str | None]
    use_tls: bool
    start_tls: bool | None
    timeout_seconds: float


def build_message(delivery: Delivery, *, sender: str, links: Links) -> MIMEMultipart:
    """The email of one delivery: ``multipart/alternative``, plain text then HTML.

    Built with the ``email.mime`` classes rather than ``EmailMessage``: the
    modern header registry parses every header it is given and costs about a
    millisecond a message, most of what the sender spends per mail. Its one
    safety net, refusing line breaks in header values, is kept by hand.
    """
    channel = delivery.channel
    if not isinstance(channel, EmailChannel):
        raise DeliveryError("not an email channel", permanent=True)
    rendered = render_email(delivery.digest, channel.name, links)
    # A boundary of our own: the generator would otherwise scan the body with a
    # regex compiled per message. The notification id never occurs in the body.
    message = MIMEMultipart("alternative", boundary=f"clef-pro-{delivery.notification_id}")
    headers = {
        "Subject": rendered.subject,
        "From": sender,
        "To": ", ".join(channel.to),
        "Message-ID": delivery.message_id,
        "Date": format_datetime(delivery.created_at),
        # RFC 3834: an automatic message; out-of-office replies should stay away.
        "Auto-Submitted": "auto-generated",
        "X-Clef-Pro-Integration": delivery.digest.integration_id,
        "X-Clef-Pro-Commit": delivery.digest.commit_sha,
    }
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise DeliveryError(f"the {name} header would span lines", permanent=True)
        message[name] = value if value.isascii() else Header(value, "utf-8").encode()
    message.attach(_text_part(rendered.text, "plain"))
    message.attach(_text_part(rendered.html, "html"))
    return message


def _text_part(text: str, subtype: str) -> MIMEText:
    if text.isascii():
        return MIMEText(text, subtype, "us-ascii")
    charset = Charset("utf-8")
    charset.body_encoding = QP  # readable in any mail source view, unlike base64
    return MIMEText(text, subtype, charset)  # type: ignore[arg-type]


class EmailBackend:
    channel_type: ClassVar[str] = "email"

    def __init__(self, config: SmtpConfig, links: Links) -> None:
        self._config = config
        self._links = links
        self._envelope_sender = parseaddr(config.sender)[1]
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def send(self, delivery: Delivery) -> None:
        message = build_message(delivery, sender=self._config.sender, links=self._links)
        assert isinstance(delivery.channel, EmailChannel)
        recipients = list(delivery.channel.to)
        try:
            client, reused = await self._connection()
            try:
                refused = await self._submit(client, message, recipients)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                if not reused:
                    raise
                # The server had closed the idle connection we picked: once more, fresh.
                client, _ = await self._connection(fresh=True)
                refused = await self._submit(client, message, recipients)
        except Exception as error:
            raise _delivery_error(error) from None
        if refused:
            log.warning(
                "notification %s: %d of %d recipients refused by the SMTP server",
                delivery.notification_id,
                len(refused),
                len(recipients),
            )

    async def _submit(
        self, client: aiosmtplib.SMTP, message: MIMEMultipart, recipients: list[str]
    ) -> dict[str, aiosmtplib.SMTPResponse]:
        """One mail transaction; the connection goes back to the pool only if it succeeded."""
        try:
            refused, _reply = await client.send_message(
                message, sender=self._envelope_sender, recipients=recipients
            )
        except BaseException:
            client.close()
            raise
        self._idle.append((client, time.monotonic()))
        return refused

    async def _connection(self, *, fresh: bool = False) -> tuple[aiosmtplib.SMTP, bool]:
        now = time.monotonic()
        while self._idle and not fresh:
            client, since = self._idle.pop()
            if now - since < IDLE_SECONDS and client.is_connected:
                return client, True
            client.close()
        config = self._config
        password = config.password()
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username if password is not None else None,
            password=password,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=config.timeout_seconds,
        )
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        return client, False

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for client, _since in idle:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


def _describe(error: BaseException) -> str:
    return (str(error).strip() or type(error).__name__)[:300]


def _delivery_error(error: Exception) -> DeliveryError:
    """Classify an aiosmtplib failure; texts carry the server's words, never a secret."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = sorted({refusal.code for refusal in error.recipients})
        return DeliveryError(
            f"every recipient was refused (SMTP {', '.join(map(str, codes))})",
            permanent=all(500 <= code < 600 for code in codes),
        )
    if isinstance(error, aiosmtplib.SMTPSenderRefused):
        # CLEF_PRO_SMTP_FROM is ours to fix; the message itself is fine.
        return DeliveryError(f"the SMTP server refused the From address ({error.code})")
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return DeliveryError(f"SMTP authentication failed ({error.code})")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        code = error.code
        return DeliveryError(
            f"SMTP {code}: {error.message[:300]}".strip(),
            permanent=500 <= code < 600 and code not in _CONFIGURATION_CODES,
        )
    if isinstance(error, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return DeliveryError("the SMTP server timed out")
    if isinstance(error, aiosmtplib.SMTPConnectError | OSError):
        return DeliveryError(f"cannot reach the SMTP server: {_describe(error)}")
    if isinstance(error, aiosmtplib.SMTPException):
        return DeliveryError(f"SMTP error: {_describe(error)}")
    return DeliveryError(f"unexpected {type(error).__name__} while sending")
