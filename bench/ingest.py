"""Report ingestion through the real HTTP server, against a raw-insert ceiling.

Why: a report costs more than a row. ``POST /api/v1/reports`` validates and
screens the body, resolves the API key, takes the integration's row lock,
stores the normalised body, moves the HEAD and runs the alert lifecycle, all
in one transaction behind uvicorn and FastAPI. This benchmark tells how much
that costs compared to the least any design could do with the same report on
the same machine: one bare psycopg ``INSERT`` of the same JSON body into a
plain JSONB table, one transaction per report, at the same concurrency.

Both sides run in the same process, against the same PostgreSQL cluster, in
the same run, so the ratio (HTTP / raw) is what to read and compare between
runs and machines; the absolute figures move with the hardware. Throughput
ratio 0.25 means the service ingests a quarter as many reports per second as
bare inserts; a latency ratio of 4 means a submission waits four times as long
as a bare insert-and-commit.

Each client submits to an integration of its own, oldest commit first, so
every report becomes its integration's HEAD and runs the lifecycle (checked
after the run), and clients do not queue on each other's integration lock,
just as separate CI pipelines do not. The table also times ``GET /healthz`` at the same
concurrency: the floor of the HTTP stack alone (uvicorn, FastAPI, the client),
and CPU milliseconds per report of the client, the server and PostgreSQL, to
show where the time goes. The HTTP phase and its ``/healthz`` baseline run in
alternating rounds, and the bare inserts half before and half after them, so
that a machine whose speed moves during the run moves a ratio's two sides
alike.

Further figures, each a ratio against a baseline of the same run (the
targets of the ingestion issue; :func:`targets` prints them together):

- server CPU per report against server CPU per ``GET /healthz`` (≤ 3);
- what an email channel adds to the server CPU of a report (≤ 0.5 ms): the
  same phase again with every integration notifying an email channel (each
  report queues one message; nothing is sent, no SMTP server is configured);
- database round trips per report (≤ 3), counted by a TCP relay between a
  server of its own and PostgreSQL: the server's turns from sending to
  waiting for an answer, less what the idle server made in as long; and the
  statements per report, by PostgreSQL's ``CommandComplete`` answers on the
  same relay;
- HTTP throughput against the bare insert (≥ 0.1), and p99 against p50
  latency of the HTTP phase (≤ 3);
- one ``POST /api/v1/reports/batch`` of 10,000 reports (the CLI's backfill)
  against the same reports one by one (a prefix timed and scaled; ≥ 20), and
  the server's peak RSS meanwhile beside the chart's 512Mi limit;
- two ``clef-pro serve`` processes on the same database against one, the
  clients split between them (≥ 1.7).

On a 2-core machine the benchmark client, PostgreSQL and the server(s) share
the same two cores: two server processes cannot get two cores of their own,
and any other load on the machine lowers every figure. The output says how
busy the machine was before and during each phase.

Run on demand, not in CI::

    .venv/bin/python -m bench.ingest [--reports N] [--concurrency C] [--json out.json]

It starts its own throwaway PostgreSQL with the test suite's helper, so
``fsync``, ``synchronous_commit`` and ``full_page_writes`` are off (set on the
server's command line, which no ``ALTER SYSTEM`` overrides): commits cost no
disk flush, on both sides alike. Then one ``clef-pro serve`` process;
everything listens on 127.0.0.1, and both are stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from tests.support.contract import spec_report
from tests.support.postgres import Databases, PostgresServer, start_postgres
from tests.support.server import ServerProcess, start_server
from tests.support.service import ADMIN_TOKEN, ServiceClient, key_headers

#: A commit time to count up from (November 2025, epoch milliseconds).
BASE_TIMESTAMP = 1_763_900_500_000
BATCH_SIZE = 10_000
#: Singles timed for the batch comparison (the rest are scaled from them).
SINGLES_TIMED = 500
#: The chart's memory limit for the API (charts/clef-pro/values.yaml).
CHART_MEMORY_LIMIT = 512 * 1024 * 1024
EMAIL_CHANNEL = {"name": "security", "type": "email", "to": ["security@acme.example"]}
ROUND_TRIP_REPORTS = 200
WARMUP_PER_WORKER = 25
#: Rounds the HTTP phase and its /healthz baseline are each split into, run
#: alternately (baseline first in even rounds, last in odd ones).
INTERLEAVED_ROUNDS = 4
RAW_DATABASE = "bench_raw"
RAW_TABLE = """
CREATE TABLE raw_reports (
    id bigserial PRIMARY KEY,
    integration_id text NOT NULL,
    commit_sha text NOT NULL,
    body jsonb NOT NULL
)
"""
RAW_INSERT = "INSERT INTO raw_reports (integration_id, commit_sha, body) VALUES (%s, %s, %s::jsonb)"
JSON_HEADERS = {"Content-Type": "application/json"}


# ---------------------------------------------------------------- reports


@dataclass(frozen=True)
class Encoded:
    """One report as it goes on the wire: its commit and its JSON bytes."""

    commit_sha: str
    body: bytes


def reports(count: int, start: int = 0) -> list[Encoded]:
    """The contract's spec example re-keyed per commit, commit times increasing.

    Every one fails the same two rules, so once the alerts are open each
    report that becomes HEAD records two "recurring" alert events.
    """
    encoded = []
    for index in range(start, start + count):
        body = spec_report(f"{index + 1:040x}", timestamp=BASE_TIMESTAMP + index * 1000)
        encoded.append(Encoded(body["commitSha"], json.dumps(body, separators=(",", ":")).encode()))
    return encoded


def deal(items: Sequence[Encoded], hands: int) -> list[list[Encoded]]:
    """Split ``items`` into ``hands`` interleaved slices, each still oldest first."""
    return [list(items[hand::hands]) for hand in range(hands)]


# ---------------------------------------------------------------- measuring


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds of the process and its reaped children)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5): state, ppid, ..., utime (14) .. cstime (17)
    ticks = sum(int(value) for value in fields[11:15])
    return int(fields[1]), ticks / CLOCK_TICKS


def postgres_cpu(postmaster: int) -> float:
    """CPU seconds of the whole cluster: the postmaster with every exited
    backend it reaped, plus the backends alive now."""
    total = _proc_stat(postmaster)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent, seconds = _proc_stat(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        if parent == postmaster:
            total += seconds
    return total


@dataclass
class CpuMeter:
    """CPU used by the benchmark's own process, the server and PostgreSQL."""

    server_pid: int
    postmaster_pid: int

    def sample(self) -> tuple[float, float, float, float]:
        """CPU seconds of the client, the server, PostgreSQL, and the whole machine."""
        return (
            time.process_time(),
            _proc_stat(self.server_pid)[1],
            postgres_cpu(self.postmaster_pid),
            machine_busy_seconds(),
        )


@dataclass
class Figures:
    name: str
    count: int
    concurrency: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    #: CPU milliseconds per report of the benchmark client, the server process
    #: and the PostgreSQL cluster (all processes) while the phase ran.
    cpu_ms: dict[str, float] = field(default_factory=dict)
    #: Share of the machine's CPUs that other processes used meanwhile
    #: (0 on a quiet machine; past 0.1 the figures are disturbed).
    other_load: float = 0.0
    #: Every request's latency, seconds, sorted (to merge phases; not printed).
    latencies: list[float] = field(default_factory=list, repr=False)


def run_phase(
    name: str,
    hands: Sequence[Sequence[Encoded]],
    *,
    open_worker: Callable[[int], Any],
    send: Callable[[Any, Encoded], None],
    close_worker: Callable[[Any], None],
    meter: CpuMeter | None,
) -> Figures:
    """Each hand is played by its own thread with its own connection, all
    started together; wall time runs from the first start to the last finish."""
    workers = len(hands)
    barrier = threading.Barrier(workers + 1)
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * workers
    latencies: list[list[float]] = [[] for _ in range(workers)]

    def play(worker: int) -> None:
        try:
            handle = open_worker(worker)
        except BaseException:
            barrier.abort()  # release everyone else rather than hang
            raise
        try:
            barrier.wait()
            started = time.perf_counter()
            own = latencies[worker]
            for item in hands[worker]:
                before = time.perf_counter()
                send(handle, item)
                own.append(time.perf_counter() - before)
            spans[worker] = (started, time.perf_counter())
        finally:
            close_worker(handle)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(play, worker) for worker in range(workers)]
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            for future in futures:
                future.result()  # raises the error that broke the barrier
            raise
        cpu_before = meter.sample() if meter else None
        for future in futures:
            future.result()
        cpu_after = meter.sample() if meter else None

    count = sum(len(hand) for hand in hands)
    seconds = max(end for _, end in spans) - min(start for start, _ in spans)
    ordered = sorted(value for own in latencies for value in own)
    cpu: dict[str, float] = {}
    other_load = 0.0
    if cpu_before and cpu_after:
        used = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
        for label, seconds_used in zip(("client", "server", "postgres"), used, strict=False):
            cpu[label] = seconds_used * 1000 / count
        other = used[3] - sum(used[:3])
        other_load = max(0.0, other / (seconds * (os.cpu_count() or 1)))
    return Figures(
        name=name,
        count=count,
        concurrency=workers,
        seconds=seconds,
        throughput=count / seconds,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        cpu_ms=cpu,
        other_load=round(other_load, 3),
        latencies=ordered,
    )


def row_json(row: Figures) -> dict[str, Any]:
    """A phase's figures for ``--json``, without every latency."""
    return {key: value for key, value in asdict(row).items() if key != "latencies"}


def merged(name: str, parts: Sequence[Figures]) -> Figures:
    """One phase's figures from its rounds: requests and seconds added up,
    CPU per request over all of them, percentiles over every request."""
    count = sum(part.count for part in parts)
    seconds = sum(part.seconds for part in parts)
    ordered = sorted(value for part in parts for value in part.latencies)
    cpu = {
        label: sum(part.cpu_ms[label] * part.count for part in parts) / count
        for label in parts[0].cpu_ms
    }
    return Figures(
        name=name,
        count=count,
        concurrency=parts[0].concurrency,
        seconds=seconds,
        throughput=count / seconds,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        cpu_ms=cpu,
        other_load=max(part.other_load for part in parts),
        latencies=ordered,
    )


# ---------------------------------------------------------------- the two sides


class LoadClient:
    """One keep-alive HTTP/1.1 connection, as cheap on the client's CPU as
    the standard library allows.

    The load generator shares the machine's cores with the server and
    PostgreSQL: httpx spent about 0.6 ms of CPU per request, a third of what
    the server spends on a report, and so took cores from the process being
    measured. The bare-insert ceiling's client is bare psycopg; the HTTP
    phases get a client as thin (``http.client``, as a load tool such as
    ``wrk`` would be).
    """

    def __init__(self, url: str) -> None:
        parsed = urlsplit(url)
        self._connection = http.client.HTTPConnection(
            parsed.hostname or "127.0.0.1", parsed.port, timeout=120
        )
        status, text = self.request("GET", "/healthz")  # open the connection
        if status != 200:
            raise RuntimeError(f"/healthz: {status} {text}")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """The status and the text of the answer."""
        self._connection.request(method, path, body=body, headers=headers or {})
        response = self._connection.getresponse()
        content = response.read()
        return response.status, content.decode(errors="replace")

    def close(self) -> None:
        self._connection.close()


class Service:
    """The running server, seen from the benchmark."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.admin = ServiceClient(server.client())

    def integration(self, integration_id: str, **config: Any) -> str:
        (key,) = self.admin.put_integration(integration_id, **config)
        return key

    def client(self) -> httpx.Client:
        client = httpx.Client(base_url=self.server.url, timeout=120)
        client.get("/healthz").raise_for_status()  # open the keep-alive connection
        return client

    def load_client(self, url: str | None = None) -> LoadClient:
        return LoadClient(url or self.server.url)

    def http_phase(
        self,
        name: str,
        hands: Sequence[Sequence[Encoded]],
        meter: CpuMeter | None,
        *,
        servers: Sequence[ServerProcess] = (),
        keys: Sequence[str] = (),
        **config: Any,
    ) -> Figures:
        """Each hand submits to an integration of its own, oldest first, so
        every report is newer than the HEAD and runs the lifecycle. With
        ``servers``, the hands are dealt round-robin between them. With
        ``keys`` (one per hand), to those integrations rather than new ones."""
        keys = keys or [self.integration(f"{name}-{hand}", **config) for hand in range(len(hands))]
        urls = [server.url for server in servers] or [self.server.url]

        def open_worker(worker: int) -> tuple[LoadClient, dict[str, str]]:
            client = self.load_client(urls[worker % len(urls)])
            return client, {**JSON_HEADERS, **key_headers(keys[worker])}

        def send(handle: tuple[LoadClient, dict[str, str]], item: Encoded) -> None:
            client, headers = handle
            status, text = client.request("POST", "/api/v1/reports", item.body, headers)
            if status != 200:
                raise RuntimeError(f"{item.commit_sha}: {status} {text}")

        def close(handle: tuple[LoadClient, dict[str, str]]) -> None:
            handle[0].close()

        return run_phase(
            name, hands, open_worker=open_worker, send=send, close_worker=close, meter=meter
        )

    def floor_phase(self, requests: int, workers: int, meter: CpuMeter | None) -> Figures:
        """``GET /healthz`` at the same concurrency: what uvicorn, FastAPI's
        thread pool and the load client cost with no body and no database."""
        hands = [[Encoded("", b"")] * (requests // workers) for _ in range(workers)]

        def send(client: LoadClient, _item: Encoded) -> None:
            status, text = client.request("GET", "/healthz")
            if status != 200:
                raise RuntimeError(f"/healthz: {status} {text}")

        return run_phase(
            "http floor",
            hands,
            open_worker=lambda _worker: self.load_client(),
            send=send,
            close_worker=lambda client: client.close(),
            meter=meter,
        )


class RawStore:
    """The ceiling: bare psycopg inserts of the same bodies, nothing else."""

    def __init__(self, postgres: PostgresServer) -> None:
        with postgres.connect() as admin:
            admin.execute(f"CREATE DATABASE {RAW_DATABASE}")
        self.url = postgres.url(RAW_DATABASE, "postgresql")
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(RAW_TABLE)

    def phase(
        self, name: str, hands: Sequence[Sequence[Encoded]], meter: CpuMeter | None
    ) -> Figures:
        bodies = {item.commit_sha: item.body.decode() for hand in hands for item in hand}

        def open_worker(worker: int) -> tuple[psycopg.Connection[Any], str]:
            connection = psycopg.connect(self.url)
            connection.execute("SELECT 1")
            connection.commit()
            return connection, f"{name}-{worker}"

        def send(handle: tuple[psycopg.Connection[Any], str], item: Encoded) -> None:
            connection, integration = handle
            connection.execute(RAW_INSERT, (integration, item.commit_sha, bodies[item.commit_sha]))
            connection.commit()

        def close(handle: tuple[psycopg.Connection[Any], str]) -> None:
            handle[0].close()

        return run_phase(
            name, hands, open_worker=open_worker, send=send, close_worker=close, meter=meter
        )


def lifecycle_coverage(postgres: PostgresServer, database: str, prefix: str) -> tuple[int, int]:
    """(reports stored, reports that recorded alert events) for integrations
    named ``prefix-*``: proof that every submission became HEAD."""
    with postgres.connect(database) as connection:
        row = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS "
            "(SELECT 1 FROM alert_events e WHERE e.report_id = r.id)) "
            "FROM reports r WHERE r.integration_id LIKE %s",
            (f"{prefix}-%",),
        ).fetchone()
    assert row is not None
    stored, with_events = row
    assert isinstance(stored, int)
    assert isinstance(with_events, int)
    return stored, with_events


# ---------------------------------------------------------------- batch vs singles


@dataclass
class BatchFigures:
    reports: int
    singles_timed: int
    batch_seconds: float = 0.0
    #: The timed singles' seconds, scaled to ``reports``.
    singles_seconds: float = 0.0
    #: Server peak RSS while it took the batch, and while it took the singles.
    batch_peak_rss: int = 0
    singles_peak_rss: int = 0
    #: CPU milliseconds per report (client/server/postgres).
    batch_cpu_ms: dict[str, float] = field(default_factory=dict)
    singles_cpu_ms: dict[str, float] = field(default_factory=dict)
    other_load: float = 0.0


def batch_vs_singles(service: Service, count: int, timed: int, meter: CpuMeter) -> BatchFigures:
    """One batch of ``count`` reports against the first ``timed`` of the same
    reports one by one from one client (scaled to ``count``), each into a
    fresh integration; the server's peak RSS through each."""
    items = reports(count)
    batch_body = b'{"reports":[' + b",".join(item.body for item in items) + b"]}"
    figures = BatchFigures(count, timed)
    pid = service.server.process.pid
    labels = ("client", "server", "postgres")
    other = 0.0

    def timed_run(
        action: Callable[[], None], reports_done: int
    ) -> tuple[float, int, dict[str, float]]:
        nonlocal other
        reset_peak(pid)
        before = meter.sample()
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
        after = meter.sample()
        used = [b - a for a, b in zip(before, after, strict=True)]
        other += max(0.0, used[3] - sum(used[:3]))
        cpu = {k: v * 1000 / reports_done for k, v in zip(labels, used, strict=False)}
        return seconds, peak_rss(pid), cpu

    client = service.load_client()
    try:
        headers = {**JSON_HEADERS, **key_headers(service.integration("batch"))}

        def batch() -> None:
            status, text = client.request("POST", "/api/v1/reports/batch", batch_body, headers)
            if status != 200 or json.loads(text)["accepted"] != count:
                raise RuntimeError(f"batch: {status} {text[:500]}")

        figures.batch_seconds, figures.batch_peak_rss, figures.batch_cpu_ms = timed_run(
            batch, count
        )
        single_headers = {**JSON_HEADERS, **key_headers(service.integration("singles"))}

        def singles() -> None:
            for item in items[:timed]:
                status, text = client.request("POST", "/api/v1/reports", item.body, single_headers)
                if status != 200:
                    raise RuntimeError(f"single: {status} {text}")

        seconds, figures.singles_peak_rss, figures.singles_cpu_ms = timed_run(singles, timed)
        figures.singles_seconds = seconds * count / timed
    finally:
        client.close()
    elapsed = figures.batch_seconds + figures.singles_seconds * timed / count
    figures.other_load = round(other / (elapsed * (os.cpu_count() or 1)), 3)
    return figures


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int) -> None:
    """Start a new peak-RSS measurement of ``pid`` (same user or root)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# ---------------------------------------------------------------- round trips


class ServerMessages:
    """Counts the ``CommandComplete`` messages in what PostgreSQL sends on one
    connection: one per statement it ran, whether the statement came alone or
    among others in one query.

    Before authentication the server may answer an SSL or GSS encryption
    request with one unframed byte (``N``, ``S`` or ``G``); every message
    after that is a type byte and a length that counts itself.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._framed = False
        self.completed = 0

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while buffer:
            if not self._framed and buffer[0] in b"NSG":
                del buffer[0]
                continue
            if len(buffer) < 5:
                return
            self._framed = True
            size = 1 + int.from_bytes(buffer[1:5], "big")
            if len(buffer) < size:
                return
            if buffer[0] == ord("C"):
                self.completed += 1
            del buffer[:size]


class TurnCounter:
    """A TCP relay to PostgreSQL that counts round trips: each time the server
    answers after the client last sent (per connection), one turn; and
    statements, by the server's ``CommandComplete`` answers.

    PostgreSQL sends nothing back until the client ends what it sends with
    ``Sync`` or ``Flush`` (or a simple query), so statements sent together are
    one turn, and statements sent one at a time are one each.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.turns = 0
        self._connections: list[ServerMessages] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            state = {"last": "server"}
            messages = ServerMessages()
            with self._lock:
                self._connections.append(messages)
            for source, sink, side in ((client, server, "client"), (server, client, "server")):
                threading.Thread(
                    target=self._pump, args=(source, sink, side, state, messages), daemon=True
                ).start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        side: str,
        state: dict[str, str],
        messages: ServerMessages,
    ) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if side == "server":
                        if state["last"] == "client":
                            self.turns += 1
                        messages.feed(data)
                    state["last"] = side
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def read(self) -> tuple[int, int]:
        """Turns and statements so far, over every connection."""
        with self._lock:
            return self.turns, sum(each.completed for each in self._connections)

    def close(self) -> None:
        self.listener.close()


@dataclass
class RoundTrips:
    reports: int
    turns: int
    idle_turns: float
    statements: int
    idle_statements: float

    @property
    def per_report(self) -> float:
        return max(0.0, self.turns - self.idle_turns) / self.reports

    @property
    def statements_per_report(self) -> float:
        return max(0.0, self.statements - self.idle_statements) / self.reports


def round_trips(service: Service, relay: TurnCounter, server: ServerProcess) -> RoundTrips:
    """Reports one by one through a server whose database connection is the
    relay; the turns its background work (outbox, checks) makes while idle
    for as long are taken off."""
    key = service.integration("round-trips")
    items = reports(ROUND_TRIP_REPORTS, start=10)
    headers = {**JSON_HEADERS, **key_headers(key)}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for item in reports(10):  # warm up: the pooled connection, the compiled statements
            client.post("/api/v1/reports", content=item.body, headers=headers)
        start = relay.read()
        started = time.perf_counter()
        for item in items:
            response = client.post("/api/v1/reports", content=item.body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"round trips: {response.status_code} {response.text}")
        seconds = time.perf_counter() - started
        end = relay.read()
    idle_start = relay.read()
    time.sleep(min(seconds, 10.0))
    idle_end = relay.read()
    scale = seconds / min(seconds, 10.0)
    return RoundTrips(
        len(items),
        turns=end[0] - start[0],
        idle_turns=(idle_end[0] - idle_start[0]) * scale,
        statements=end[1] - start[1],
        idle_statements=(idle_end[1] - idle_start[1]) * scale,
    )


# ---------------------------------------------------------------- environment


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def machine_busy_seconds() -> float:
    return _cpu_jiffies()[0] / CLOCK_TICKS


def busy_fraction(seconds: float = 1.0) -> float:
    """How busy the CPUs are while the benchmark itself does nothing: 0 is idle."""
    busy_before, total_before = _cpu_jiffies()
    time.sleep(seconds)
    busy_after, total_after = _cpu_jiffies()
    return (busy_after - busy_before) / max(1, total_after - total_before)


def code_version() -> str:
    """The commit the service runs from, and whether its code had local changes."""
    repo = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "api", "clef_pro")
    return f"{commit}{' with local changes' if dirty else ''}"


def machine(postgres: PostgresServer) -> dict[str, Any]:
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    version = subprocess.run(
        [str(postgres.bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    settings = {}
    with postgres.connect() as connection:
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            row = connection.execute(f"SHOW {name}").fetchone()
            settings[name] = str(row[0]) if row else "?"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": version,
        "postgres_settings": settings,
        "cpu_busy_before_start": round(busy_fraction(), 3),
        "code": code_version(),
    }


@dataclass
class Environment:
    postgres: PostgresServer
    database: str
    service: Service
    workdir: Path
    env: dict[str, str]
    started: list[ServerProcess] = field(default_factory=list)

    def __iter__(self) -> Iterator[Any]:
        """``postgres, database, service, workdir``, as other benchmarks unpack it."""
        return iter((self.postgres, self.database, self.service, self.workdir))

    def start_server(self, name: str, **extra_env: str) -> ServerProcess:
        """Another ``clef-pro serve`` on the same database."""
        server = start_server({**self.env, **extra_env}, self.workdir / f"{name}.log", timeout=180)
        self.started.append(server)
        return server


@contextmanager
def environment() -> Iterator[Environment]:
    """PostgreSQL, a migrated database and one ``clef-pro serve`` on it; all
    stopped and removed on the way out, whatever happened."""
    workdir = Path(tempfile.mkdtemp(prefix="clef-pro-bench-"))
    postgres = start_postgres()
    setup: Environment | None = None
    try:
        database = Databases(postgres).create()
        env = {
            "CLEF_PRO_DATABASE_URL": postgres.url(database),
            "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN,
            "CLEF_PRO_DATA_DIR": str(workdir / "data"),
            "CLEF_PRO_LOG_LEVEL": "warning",
            "CLEF_PRO_AUTO_MIGRATE": "false",
        }
        # Generous: on a busy machine start-up alone can take half a minute.
        server = start_server(env, workdir / "server.log", timeout=180)
        setup = Environment(postgres, database, Service(server), workdir, env, [server])
        yield setup
    except BaseException:
        for log in sorted(workdir.glob("*.log")):
            print(f"--- {log.name} ---\n{log.read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        for started in setup.started if setup is not None else []:
            started.stop()
        postgres.stop()
        shutil.rmtree(postgres.root, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- output


def print_table(rows: Sequence[Figures]) -> None:
    print(
        f"{'':<24}{'reports':>8}{'conc':>6}{'seconds':>9}{'reports/s':>11}"
        f"{'p50 ms':>9}{'p99 ms':>9}   CPU ms/report: client/server/postgres, other load"
    )
    for row in rows:
        cpu = "/".join(f"{row.cpu_ms.get(k, 0):.2f}" for k in ("client", "server", "postgres"))
        print(
            f"{row.name:<24}{row.count:>8}{row.concurrency:>6}{row.seconds:>9.2f}"
            f"{row.throughput:>11.0f}{row.p50_ms:>9.2f}{row.p99_ms:>9.2f}   {cpu}, "
            f"{row.other_load:.0%}"
        )
    if any(row.other_load > 0.1 for row in rows):
        print("warning: other processes used the CPUs during a phase; its figures are low")


@dataclass
class Target:
    name: str
    measured: float
    limit: float
    #: ``True``: the measured figure must stay at or below the limit.
    at_most: bool
    detail: str = ""

    @property
    def met(self) -> bool:
        return self.measured <= self.limit if self.at_most else self.measured >= self.limit


def print_targets(targets: Sequence[Target]) -> None:
    print("\ntargets (each a ratio or a count measured in this run):")
    for target in targets:
        bound = f"{'<=' if target.at_most else '>='} {target.limit:g}"
        verdict = "met" if target.met else "NOT met"
        print(
            f"  {target.name:<44}{target.measured:>9.2f}  {bound:<9} {verdict:<8} {target.detail}"
        )


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0915 (one run, read top to bottom)
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--reports", type=int, default=2000, help="reports per phase (2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="runs of the raw phase, half before the HTTP phase and half after, median kept (4)",
    )
    parser.add_argument(
        "--batch", type=int, default=BATCH_SIZE, help=f"reports in the batch ({BATCH_SIZE})"
    )
    parser.add_argument(
        "--singles",
        type=int,
        default=SINGLES_TIMED,
        help=f"of those, sent one by one and timed ({SINGLES_TIMED})",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.reports < args.concurrency or args.concurrency < 1:
        parser.error("need at least one report per client")

    command = "python -m bench.ingest " + " ".join(sys.argv[1:] if argv is None else argv)
    with environment() as setup:
        postgres, database, service = setup.postgres, setup.database, setup.service
        postmaster = int((postgres.root / "data" / "postmaster.pid").read_text().split()[0])
        meter = CpuMeter(service.server.process.pid, postmaster)
        info = machine(postgres)
        print(f"machine: {json.dumps(info)}")
        print(f"command: {command.strip()}")
        if info["cpu_busy_before_start"] > 0.1:
            print("warning: something else is using the CPUs; the figures will be low")
        print()
        raw = RawStore(postgres)
        workers = args.concurrency

        # Warm both sides up (connection pools, thread pool, imports, plans).
        warmup = deal(reports(WARMUP_PER_WORKER * workers), workers)
        service.http_phase("warmup", warmup, None)
        raw.phase("warmup", warmup, None)

        hands = deal(reports(args.reports), workers)
        # The HTTP phase and its /healthz baseline run in alternating rounds
        # (baseline, HTTP, HTTP, baseline, and again), the bare inserts before
        # and after them all: a 2-core VM's speed moves by a tenth and more
        # from one second to the next, and a ratio of two phases run one
        # after the other moves with it, in either direction. Interleaved,
        # both sides of a ratio see the same machine.
        before = args.rounds // 2
        ceilings = [raw.phase(f"raw{round_}", hands, meter) for round_ in range(before)]
        keys = [service.integration(f"http-{hand}") for hand in range(workers)]
        http_rounds: list[Figures] = []
        floor_rounds: list[Figures] = []
        for part in range(INTERLEAVED_ROUNDS):
            # Each integration's reports stay oldest first from round to round.
            round_hands = [
                hand[
                    len(hand) * part // INTERLEAVED_ROUNDS : len(hand)
                    * (part + 1)
                    // INTERLEAVED_ROUNDS
                ]
                for hand in hands
            ]
            floor_first = part % 2 == 0
            if floor_first:
                floor_rounds.append(
                    service.floor_phase(args.reports // INTERLEAVED_ROUNDS, workers, meter)
                )
            http_rounds.append(service.http_phase("http", round_hands, meter, keys=keys))
            if not floor_first:
                floor_rounds.append(
                    service.floor_phase(args.reports // INTERLEAVED_ROUNDS, workers, meter)
                )
        stored, with_events = lifecycle_coverage(postgres, database, "http")
        # The raw side takes well under a second: keep the median of a few runs.
        ceilings += [
            raw.phase(f"raw{round_}", hands, meter) for round_ in range(before, args.rounds)
        ]
        ceiling = sorted(ceilings, key=lambda row: row.throughput)[len(ceilings) // 2]
        http = merged("HTTP POST /reports", http_rounds)
        floor = merged("HTTP GET /healthz", floor_rounds)
        email = service.http_phase("email", hands, meter, channels=[EMAIL_CHANNEL])
        ceiling.name, email.name = "raw psycopg INSERT", "POST /reports, email"
        print_table([http, ceiling, floor, email])
        print(
            "server CPU ms per request, by round (report / healthz): "
            + ", ".join(
                f"{h.cpu_ms['server']:.2f}/{f.cpu_ms['server']:.2f}"
                for h, f in zip(http_rounds, floor_rounds, strict=True)
            )
        )
        ratios = {
            "throughput_http_over_raw": http.throughput / ceiling.throughput,
            "p50_http_over_raw": http.p50_ms / ceiling.p50_ms,
            "p99_http_over_raw": http.p99_ms / ceiling.p99_ms,
        }
        print(
            f"\nratio HTTP / raw: throughput {ratios['throughput_http_over_raw']:.3f} "
            f"(raw is {1 / ratios['throughput_http_over_raw']:.1f}x faster), "
            f"p50 latency {ratios['p50_http_over_raw']:.1f}x, "
            f"p99 latency {ratios['p99_http_over_raw']:.1f}x"
        )
        print(f"lifecycle ran for {with_events} of {stored} stored reports")
        if (stored, with_events) != (args.reports, args.reports):
            raise RuntimeError("not every report was stored and became HEAD")

        # Two server processes on the same database, the clients split between them.
        second = setup.start_server("second")
        meter_two = CpuMeter(second.process.pid, postmaster)
        two = service.http_phase("two", hands, meter, servers=[service.server, second])
        second_cpu = meter_two.sample()[1]
        two.name = "two processes"
        print_table([two])
        print(f"(the second process used {second_cpu:.1f} s of CPU in all, start-up included)")
        # Whatever the number of server processes, the machine cannot go past
        # its cores divided by the CPU that one report costs every process
        # (client, server and PostgreSQL alike).
        machine_ceiling = (os.cpu_count() or 1) * 1000 / sum(http.cpu_ms.values())
        print(
            f"this machine's ceiling: {machine_ceiling:.0f} reports/s "
            f"({os.cpu_count()} cores / {sum(http.cpu_ms.values()):.2f} ms of CPU per report, "
            f"all processes), {machine_ceiling / http.throughput:.2f}x one process"
        )

        # Round trips, through a relay that counts them, on a server of its own.
        relay = TurnCounter(postgres.port)
        counted = setup.start_server(
            "relayed",
            CLEF_PRO_DATABASE_URL=postgres.url(database).replace(
                f":{postgres.port}/", f":{relay.port}/"
            ),
        )
        trips = round_trips(service, relay, counted)
        counted.stop()
        relay.close()
        print(
            f"\nround trips: {trips.turns} for {trips.reports} reports one by one "
            f"({trips.idle_turns:.0f} made by the idle server in as long taken off): "
            f"{trips.per_report:.2f} per report; statements: {trips.statements} "
            f"({trips.idle_statements:.0f} idle taken off), "
            f"{trips.statements_per_report:.2f} per report"
        )

        batch = batch_vs_singles(service, args.batch, args.singles, meter)
        ratio = batch.singles_seconds / batch.batch_seconds

        def cpu(figures: dict[str, float]) -> str:
            return "/".join(f"{figures[k]:.2f}" for k in ("client", "server", "postgres"))

        print(
            f"\n{batch.reports} reports, one client (CPU ms/report client/server/postgres):\n"
            f"  one POST /reports/batch  {batch.batch_seconds:8.2f} s "
            f"{batch.reports / batch.batch_seconds:6.0f} reports/s   {cpu(batch.batch_cpu_ms)}"
            f"   peak RSS {batch.batch_peak_rss / 2**20:.0f} MiB\n"
            f"  POST /reports one by one {batch.singles_seconds:8.2f} s "
            f"{batch.reports / batch.singles_seconds:6.0f} reports/s   "
            f"{cpu(batch.singles_cpu_ms)}   peak RSS {batch.singles_peak_rss / 2**20:.0f} MiB"
            f"  ({batch.singles_timed} timed, scaled)\n"
            f"  ratio singles / batch    {ratio:8.2f}x   other load {batch.other_load:.0%}"
        )
        if batch.other_load > 0.1:
            print("warning: other processes used the CPUs meanwhile; these figures are low")

        targets = [
            Target(
                "server CPU per report / per /healthz",
                http.cpu_ms["server"] / floor.cpu_ms["server"],
                3,
                at_most=True,
                detail=f"{http.cpu_ms['server']:.2f} / {floor.cpu_ms['server']:.2f} ms",
            ),
            Target(
                "email channel: extra server CPU, ms/report",
                email.cpu_ms["server"] - http.cpu_ms["server"],
                0.5,
                at_most=True,
                detail=f"{email.cpu_ms['server']:.2f} - {http.cpu_ms['server']:.2f} ms",
            ),
            Target(
                "database round trips per report",
                trips.per_report,
                3,
                at_most=True,
                detail=f"{trips.statements_per_report:.2f} statements per report",
            ),
            Target(
                "HTTP throughput / bare insert",
                ratios["throughput_http_over_raw"],
                0.1,
                at_most=False,
                detail=f"{http.throughput:.0f} / {ceiling.throughput:.0f} per s, {workers} clients",
            ),
            Target(
                "p99 / p50 latency, HTTP",
                http.p99_ms / http.p50_ms,
                3,
                at_most=True,
                detail=f"{http.p99_ms:.1f} / {http.p50_ms:.1f} ms",
            ),
            Target(
                f"{batch.reports}-report batch, faster than singles",
                ratio,
                20,
                at_most=False,
                detail=f"{batch.batch_seconds:.1f} s against {batch.singles_seconds:.1f} s",
            ),
            Target(
                "batch peak RSS / chart memory limit",
                batch.batch_peak_rss / CHART_MEMORY_LIMIT,
                1,
                at_most=True,
                detail=f"{batch.batch_peak_rss / 2**20:.0f} MiB of 512 MiB",
            ),
            Target(
                "two API processes / one",
                two.throughput / http.throughput,
                1.7,
                at_most=False,
                detail=f"{two.throughput:.0f} / {http.throughput:.0f} per s; at most "
                f"{machine_ceiling / http.throughput:.2f}x on {os.cpu_count()} cores "
                "shared with PostgreSQL and the client",
            ),
        ]
        print_targets(targets)

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": command.strip(),
                    "machine": info,
                    "single": [row_json(row) for row in (http, ceiling, floor)],
                    "rounds": {
                        "http": [row_json(row) for row in http_rounds],
                        "healthz": [row_json(row) for row in floor_rounds],
                    },
                    "ratios": ratios,
                    "lifecycle": {"stored": stored, "with_events": with_events},
                    "batch": {**asdict(batch), "singles_over_batch": ratio},
                    "email": row_json(email),
                    "two_processes": row_json(two),
                    "round_trips": {
                        **asdict(trips),
                        "per_report": trips.per_report,
                        "statements_per_report": trips.statements_per_report,
                    },
                    "targets": [{**asdict(t), "met": t.met} for t in targets],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
