"""A real HTTP receiver for webhook tests: a threaded ``http.server`` on loopback.

It answers each request with the next status of a script (then 200), keeps
what it received, and checks every signature itself with a plain HMAC
computation written here, not with the service's code, so the test proves
what a receiver written from the documentation would accept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.waiting import wait_for


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    #: Whether the signature matched the key and the timestamp was fresh.
    signature_valid: bool
    #: The status the receiver answered with.
    answered: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def expected_signature(key: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookReceiver:
    def __init__(self, signing_key: str, statuses: list[int] | None = None) -> None:
        self.signing_key = signing_key
        self._script = list(statuses or [])
        self._received: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver._record(self.path, dict(self.headers.items()), body, self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _record(
        self, path: str, headers: dict[str, str], body: bytes, handler: BaseHTTPRequestHandler
    ) -> None:
        timestamp = headers.get("X-Clef-Pro-Timestamp", "")
        signature = headers.get("X-Clef-Pro-Signature", "")
        valid = (
            timestamp.isdigit()
            and abs(time.time() - int(timestamp)) < 300
            and hmac.compare_digest(
                expected_signature(self.signing_key, timestamp, body), signature
            )
        )
        with self._lock:
            status = self._script.pop(0) if self._script else 200
            self._received.append(ReceivedRequest(path, headers, body, valid, status))
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/clef"

    @property
    def received(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[ReceivedRequest]:
        return wait_for(
            lambda: r if len(r := self.received) >= count else None,
            timeout=timeout,
            interval=0.02,
            what=f"{count} webhook requests",
        )

    @contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
