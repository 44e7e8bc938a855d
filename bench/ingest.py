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
show where the time goes.

A second figure compares one ``POST /api/v1/reports/batch`` of 500 reports
(the CLI's backfill) with the same 500 reports submitted one by one from one
client, each into a fresh integration.

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
import json
import math
import os
import platform
import shutil
import statistics
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

import httpx
import psycopg

from tests.support.contract import spec_report
from tests.support.postgres import Databases, PostgresServer, start_postgres
from tests.support.server import ServerProcess, start_server
from tests.support.service import ADMIN_TOKEN, ServiceClient, key_headers

#: A commit time to count up from (November 2025, epoch milliseconds).
BASE_TIMESTAMP = 1_763_900_500_000
BATCH_SIZE = 500
WARMUP_PER_WORKER = 25
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


def reports(count: int) -> list[Encoded]:
    """The contract's spec example re-keyed per commit, commit times increasing.

    Every one fails the same two rules, so once the alerts are open each
    report that becomes HEAD records two "recurring" alert events.
    """
    encoded = []
    for index in range(count):
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
    )


# ---------------------------------------------------------------- the two sides


class Service:
    """The running server, seen from the benchmark."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.admin = ServiceClient(server.client())

    def integration(self, integration_id: str) -> str:
        (key,) = self.admin.put_integration(integration_id)
        return key

    def client(self) -> httpx.Client:
        client = httpx.Client(base_url=self.server.url, timeout=120)
        client.get("/healthz").raise_for_status()  # open the keep-alive connection
        return client

    def http_phase(
        self, name: str, hands: Sequence[Sequence[Encoded]], meter: CpuMeter | None
    ) -> Figures:
        """Each hand submits to an integration of its own, oldest first, so
        every report is newer than the HEAD and runs the lifecycle."""
        keys = [self.integration(f"{name}-{hand}") for hand in range(len(hands))]

        def open_worker(worker: int) -> tuple[httpx.Client, dict[str, str]]:
            return self.client(), {**JSON_HEADERS, **key_headers(keys[worker])}

        def send(handle: tuple[httpx.Client, dict[str, str]], item: Encoded) -> None:
            client, headers = handle
            response = client.post("/api/v1/reports", content=item.body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{item.commit_sha}: {response.status_code} {response.text}")

        def close(handle: tuple[httpx.Client, dict[str, str]]) -> None:
            handle[0].close()

        return run_phase(
            name, hands, open_worker=open_worker, send=send, close_worker=close, meter=meter
        )

    def floor_phase(self, requests: int, workers: int, meter: CpuMeter | None) -> Figures:
        """``GET /healthz`` at the same concurrency: what uvicorn, FastAPI's
        thread pool and the httpx client cost with no body and no database."""
        hands = [[Encoded("", b"")] * (requests // workers) for _ in range(workers)]

        def send(client: httpx.Client, _item: Encoded) -> None:
            client.get("/healthz").raise_for_status()

        return run_phase(
            "http floor",
            hands,
            open_worker=lambda _worker: self.client(),
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
    rounds: int
    batch_seconds: list[float] = field(default_factory=list)
    singles_seconds: list[float] = field(default_factory=list)
    #: CPU milliseconds per report (client/server/postgres), over all rounds.
    batch_cpu_ms: dict[str, float] = field(default_factory=dict)
    singles_cpu_ms: dict[str, float] = field(default_factory=dict)
    other_load: float = 0.0

    @property
    def batch_median(self) -> float:
        return statistics.median(self.batch_seconds)

    @property
    def singles_median(self) -> float:
        return statistics.median(self.singles_seconds)


def batch_vs_singles(service: Service, rounds: int, meter: CpuMeter) -> BatchFigures:
    """One batch of 500 and 500 sequential singles from one client, ``rounds``
    times, each into a fresh integration."""
    items = reports(BATCH_SIZE)
    batch_body = b'{"reports":[' + b",".join(item.body for item in items) + b"]}"
    figures = BatchFigures(BATCH_SIZE, rounds)
    cpu = {"batch": [0.0] * 4, "singles": [0.0] * 4}

    def timed(kind: str, seconds: list[float], action: Callable[[], None]) -> None:
        before = meter.sample()
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
        after = meter.sample()
        cpu[kind] = [total + b - a for total, a, b in zip(cpu[kind], before, after, strict=True)]

    client = service.client()
    try:
        for round_ in range(rounds):
            headers = {**JSON_HEADERS, **key_headers(service.integration(f"batch-{round_}"))}

            def batch(headers: dict[str, str] = headers) -> None:
                response = client.post("/api/v1/reports/batch", content=batch_body, headers=headers)
                if response.status_code != 200 or response.json()["accepted"] != BATCH_SIZE:
                    raise RuntimeError(f"batch: {response.status_code} {response.text[:500]}")

            timed("batch", figures.batch_seconds, batch)
            headers = {**JSON_HEADERS, **key_headers(service.integration(f"singles-{round_}"))}

            def singles(headers: dict[str, str] = headers) -> None:
                for item in items:
                    response = client.post("/api/v1/reports", content=item.body, headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"single: {response.status_code} {response.text}")

            timed("singles", figures.singles_seconds, singles)
    finally:
        client.close()

    count = BATCH_SIZE * rounds
    labels = ("client", "server", "postgres")
    figures.batch_cpu_ms = {k: v * 1000 / count for k, v in zip(labels, cpu["batch"], strict=False)}
    figures.singles_cpu_ms = {
        k: v * 1000 / count for k, v in zip(labels, cpu["singles"], strict=False)
    }
    elapsed = sum(figures.batch_seconds) + sum(figures.singles_seconds)
    other = sum(totals[3] - sum(totals[:3]) for totals in cpu.values())
    figures.other_load = round(max(0.0, other / (elapsed * (os.cpu_count() or 1))), 3)
    return figures


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


@contextmanager
def environment() -> Iterator[tuple[PostgresServer, str, Service, Path]]:
    """PostgreSQL, a migrated database and one ``clef-pro serve`` on it; all
    stopped and removed on the way out, whatever happened."""
    workdir = Path(tempfile.mkdtemp(prefix="clef-pro-bench-"))
    postgres = start_postgres()
    server: ServerProcess | None = None
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
        yield postgres, database, Service(server), workdir
    except BaseException:
        log = workdir / "server.log"
        if log.exists():
            print(f"--- server log ---\n{log.read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        if server is not None:
            server.stop()
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--reports", type=int, default=2000, help="reports per phase (2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of the raw and batch phases, median kept (3)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.reports < args.concurrency or args.concurrency < 1:
        parser.error("need at least one report per client")

    command = "python -m bench.ingest " + " ".join(sys.argv[1:] if argv is None else argv)
    with environment() as (postgres, database, service, _workdir):
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
        http = service.http_phase("http", hands, meter)
        stored, with_events = lifecycle_coverage(postgres, database, "http")
        # The raw side takes well under a second: keep the median of a few runs.
        ceilings = [raw.phase(f"raw{round_}", hands, meter) for round_ in range(args.rounds)]
        ceiling = sorted(ceilings, key=lambda row: row.throughput)[len(ceilings) // 2]
        floor = service.floor_phase(args.reports, workers, meter)
        http.name, ceiling.name, floor.name = (
            "HTTP POST /reports",
            "raw psycopg INSERT",
            "HTTP GET /healthz",
        )
        print_table([http, ceiling, floor])
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

        batch = batch_vs_singles(service, args.rounds, meter)
        ratio = batch.singles_median / batch.batch_median

        def cpu(figures: dict[str, float]) -> str:
            return "/".join(f"{figures[k]:.2f}" for k in ("client", "server", "postgres"))

        print(
            f"\n{BATCH_SIZE} reports, one client, median of {batch.rounds} rounds "
            f"(CPU ms/report client/server/postgres):\n"
            f"  one POST /reports/batch  {batch.batch_median:7.2f} s "
            f"{BATCH_SIZE / batch.batch_median:6.0f} reports/s   {cpu(batch.batch_cpu_ms)}\n"
            f"  {BATCH_SIZE} POST /reports       {batch.singles_median:7.2f} s "
            f"{BATCH_SIZE / batch.singles_median:6.0f} reports/s   {cpu(batch.singles_cpu_ms)}\n"
            f"  ratio singles / batch    {ratio:7.2f}x   other load {batch.other_load:.0%}"
        )
        if batch.other_load > 0.1:
            print("warning: other processes used the CPUs meanwhile; these figures are low")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": command.strip(),
                    "machine": info,
                    "single": [asdict(row) for row in (http, ceiling, floor)],
                    "ratios": ratios,
                    "lifecycle": {"stored": stored, "with_events": with_events},
                    "batch": {
                        **asdict(batch),
                        "batch_median": batch.batch_median,
                        "singles_median": batch.singles_median,
                        "singles_over_batch": ratio,
                    },
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
