"""A report costs at most three database round trips on PostgreSQL.

Why: ingestion's cost is its round trips and statements far more than its
Python (issue: 12 round trips per report made the service 50 times slower
than a bare insert). These tests read the wire itself: libpq's protocol trace
of the connection that served each request. The server sends nothing until
the client ends what it sends with ``Sync`` (or ``Flush``), so every turn of
the conversation from the client's messages to the server's answers is one
round trip: ten statements sent together are one, ten statements sent one by
one are ten. Statements are counted by the server's answers to them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import pq
from sqlalchemy import event

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from tests.support.contract import failing, passing, sha, spec_report
from tests.support.service import ServiceClient

#: The server's answer to each statement it ran, whether the statement came
#: alone (``Execute``) or among others in one simple ``Query``.
STATEMENT_DONE = "CommandComplete"


@dataclass
class Conversation:
    """What the client said on one connection between checkout and checkin."""

    messages: list[tuple[str, str]]

    @property
    def round_trips(self) -> int:
        turns, previous = 0, "B"
        for direction, _kind in self.messages:
            if direction == "B" and previous == "F":
                turns += 1
            previous = direction
        return turns

    @property
    def statements(self) -> int:
        return sum(
            1 for direction, kind in self.messages if direction == "B" and kind == STATEMENT_DONE
        )

    @property
    def text(self) -> str:
        return "\n".join(kind for _direction, kind in self.messages)


class Wiretap:
    """Traces every pooled connection of an engine, one conversation per checkout."""

    def __init__(self, engine: Any, folder: Path) -> None:
        self.folder = folder
        self.conversations: list[tuple[Conversation, str]] = []
        self._open: dict[int, Path] = {}

        @event.listens_for(engine, "checkout")
        def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            handle, name = tempfile.mkstemp(dir=folder, suffix=".trace")
            dbapi_connection.pgconn.trace(handle)
            dbapi_connection.pgconn.set_trace_flags(
                pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
            )
            self._open[id(dbapi_connection)] = Path(name)

        @event.listens_for(engine, "checkin")
        def _checkin(dbapi_connection: Any, _record: Any) -> None:
            path = self._open.pop(id(dbapi_connection), None)
            if path is None:
                return
            dbapi_connection.pgconn.untrace()  # flushes and closes the file
            raw = path.read_text(errors="replace")
            messages = []
            for line in raw.splitlines():
                fields = line.split("\t")
                if len(fields) >= 3 and fields[0] in ("F", "B"):
                    messages.append((fields[0], fields[2].split(" ", 1)[0]))
            self.conversations.append((Conversation(messages), raw))

    def take(self) -> list[tuple[Conversation, str]]:
        taken, self.conversations = self.conversations, []
        return taken

    def ingestion(self) -> Conversation:
        """The one conversation of the last request that resolved a CI key."""
        mine = [talk for talk, raw in self.take() if "api_keys" in raw]
        assert len(mine) == 1, f"expected one connection for the request, saw {len(mine)}"
        return mine[0]


@pytest.fixture
def tapped(settings: Settings, tmp_path: Path) -> Iterator[tuple[ServiceClient, Wiretap]]:
    app = create_app(settings)
    folder = tmp_path / "traces"
    folder.mkdir()
    wiretap = Wiretap(app.state.engine, folder)
    with TestClient(app) as http:
        yield ServiceClient(http), wiretap
    for leftover in folder.iterdir():
        os.unlink(leftover)


EMAIL = {"name": "security", "type": "email", "to": ["security@acme.example"]}


def _submit(service: ServiceClient, key: str, label: str, ts: int, results: list[Any]) -> None:
    service.submit_ok(key, spec_report(sha(label), timestamp=ts, policy_results=results))


@pytest.mark.parametrize("channels", [[], [EMAIL]], ids=["no channel", "email channel"])
def test_a_report_that_opens_recurs_and_resolves_alerts_costs_at_most_three_round_trips(
    tapped: tuple[ServiceClient, Wiretap], channels: list[dict[str, Any]]
) -> None:
    service, wiretap = tapped
    (warm,) = service.put_integration("warm-up")
    _submit(service, warm, "warm", 1_000, [failing("missing_keys", "oauth/production")])
    (key,) = service.put_integration("acme", channels=channels)
    wiretap.take()

    steps = [
        ("opens", [failing("missing_keys", "oauth/production"), failing("stale", "oauth/dev")]),
        ("recurs", [failing("missing_keys", "oauth/production"), failing("stale", "oauth/dev")]),
        ("resolves", [passing("missing_keys", "oauth/production"), failing("stale", "oauth/dev")]),
    ]
    for index, (label, results) in enumerate(steps):
        _submit(service, key, label, 2_000 + index, results)
        talk = wiretap.ingestion()
        assert talk.round_trips <= 3, f"{label}: {talk.round_trips} round trips"
        # BEGIN and COMMIT travel with the statements: two exchanges.
        assert talk.round_trips == 2, f"{label}: {talk.round_trips} round trips"

    alerts = {alert["ruleId"]: alert["status"] for alert in service.alerts("acme")}
    assert alerts == {"missing_keys": "resolved", "stale": "open"}


def test_a_replay_and_a_report_of_an_older_commit_cost_at_most_three_round_trips(
    tapped: tuple[ServiceClient, Wiretap],
) -> None:
    service, wiretap = tapped
    (key,) = service.put_integration("acme")
    report = spec_report(sha("head"), timestamp=5_000, policy_results=[failing("a", "x/y")])
    service.submit_ok(key, report)
    wiretap.take()

    service.submit_ok(key, report)
    assert wiretap.ingestion().round_trips <= 2

    _submit(service, key, "older", 4_000, [failing("a", "x/y")])
    assert wiretap.ingestion().round_trips <= 2


def test_a_corrected_resubmission_of_the_head_costs_three_round_trips(
    tapped: tuple[ServiceClient, Wiretap],
) -> None:
    service, wiretap = tapped
    (key,) = service.put_integration("acme", channels=[EMAIL])
    _submit(service, key, "head", 5_000, [failing("a", "x/y")])
    wiretap.take()

    _submit(service, key, "head", 5_000, [passing("a", "x/y")])
    talk = wiretap.ingestion()
    assert talk.round_trips <= 3
    assert [alert["status"] for alert in service.alerts("acme")] == ["resolved"]


def test_the_statements_of_a_report_are_the_lock_reads_and_the_writes(
    tapped: tuple[ServiceClient, Wiretap],
) -> None:
    """Lock; HEAD, commit and open alerts; report, HEAD move, alert updates,
    events; BEGIN and COMMIT: nothing per statement of the ORM, and one
    statement per kind of write, however many alerts the report touches."""
    service, wiretap = tapped
    (key,) = service.put_integration("acme")
    _submit(service, key, "one", 1_000, [failing("a", "x/y"), failing("b", "x/z")])
    wiretap.take()

    _submit(service, key, "two", 2_000, [failing("a", "x/y"), failing("b", "x/z")])
    talk = wiretap.ingestion()
    # BEGIN, 2 reads, report INSERT, integration UPDATE, one UPDATE of both
    # alerts, one INSERT of both events, COMMIT.
    assert 6 <= talk.statements <= 8, talk.text
