"""Every list and page of the read API and the dashboard, at a short and a
long history: the cost of a page must not grow with the history behind it.

Why: an integration keeps every report and every alert it ever had. A page
that reads, counts or renders all of them gets slower and bigger each day
until it exhausts a replica's memory. Each page here is keyset-paged, counted
by one grouped statement or bounded by what it draws, so it should cost the
same at 100 reports as at 100,000 (and 20,000 alerts).

Two integrations in two databases of one throwaway PostgreSQL, each served by
its own ``clef-pro serve`` process:

- short: 100 reports, 120 alerts besides the HEAD's (60 open, half of them
  acknowledged; 60 resolved);
- long: 100,000 reports, 20,000 alerts besides the HEAD's (the same 60 open;
  19,940 resolved), each alert with its events and a sent notification.

The open alerts are the same size at both: they are the present, not the
history. Each page is requested from both servers in turn, ``--repeat`` times
after a warm-up (the two back to back, alternating which goes first), and
the median of the rounds' ratios long / short is what to read (target: at
most 1.5 for every page), with both response sizes (none may grow with the
history either). A deep page is the one a cursor from the middle of the
history gives.

Run on demand, not in CI::

    .venv/bin/python -m bench.reads [--reports N] [--alerts N] [--repeat R] [--json out.json]

The history is written with ``COPY`` (tests/support/volume.py) after the
HEAD is submitted through the API; seeding the long history takes a minute
or two. Everything listens on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from clef_pro_api.services.paging import encode_cursor
from tests.support.postgres import Databases, PostgresServer, start_postgres
from tests.support.server import ServerProcess, start_server
from tests.support.service import ADMIN_TOKEN, ServiceClient, admin_headers
from tests.support.volume import Volume, seed_volume

INTEGRATION = "payments"
TARGET_RATIO = 1.5


@dataclass
class Side:
    """One size of history: its server, a signed-in client, and what was seeded."""

    name: str
    server: ServerProcess
    client: httpx.Client
    volume: Volume


@dataclass
class Figure:
    page: str
    short_ms: float
    long_ms: float
    #: The median of the rounds' own ratios (what the target is judged on).
    ratio: float
    #: The best long time over the best short time: the cost without the
    #: machine's other load, which only ever adds time.
    best_ratio: float
    short_bytes: int
    long_bytes: int


def pages(volume: Volume) -> dict[str, str]:
    """Every list and page, named the same at both sizes."""
    api = f"/api/v1/integrations/{INTEGRATION}"
    timestamp, report_id = volume.old_position
    deep_reports = encode_cursor(timestamp, report_id)
    opened, alert_id = volume.old_alert
    deep_alerts = encode_cursor(opened.isoformat(), alert_id)
    resolved = volume.resolved_alert_ids[len(volume.resolved_alert_ids) // 2]
    dashboard = f"/integrations/{INTEGRATION}"
    return {
        "api: integrations": "/api/v1/integrations",
        "api: checkpoint": api,
        "api: integration status": f"/admin/v1/integrations/{INTEGRATION}/status",
        "api: matrix (HEAD)": f"{api}/matrix",
        "api: matrix at an old commit": f"{api}/matrix?commit={volume.old_commit}",
        "api: matrix at an old prefix": f"{api}/matrix?commit={volume.old_commit[:12]}",
        "api: reports": f"{api}/reports",
        "api: reports, deep page": f"{api}/reports?cursor={deep_reports}",
        "api: alerts open": f"{api}/alerts?status=open",
        "api: alerts acknowledged": f"{api}/alerts?status=acknowledged",
        "api: alerts resolved": f"{api}/alerts?status=resolved",
        "api: alerts all": f"{api}/alerts?status=all",
        "api: alerts all, deep page": f"{api}/alerts?status=all&cursor={deep_alerts}",
        "api: alerts resolved, deep page": f"{api}/alerts?status=resolved&cursor={deep_alerts}",
        "api: lint results": f"{api}/lint-results",
        "api: drift results": f"{api}/drift-results",
        "api: notifications": f"{api}/notifications",
        "api: notifications, dead only": f"{api}/notifications?status=dead",
        "api: notifications of a channel": f"{api}/notifications?channel=ops-mail",
        "api: an alert's notifications": f"/api/v1/alerts/{resolved}/notifications",
        "api: notification status": "/api/v1/notifications/status",
        "dashboard: overview": "/",
        "dashboard: integration (HEAD)": dashboard,
        "dashboard: integration at an old commit": f"{dashboard}?commit={volume.old_commit}",
        "dashboard: integration at an old prefix": f"{dashboard}?commit={volume.old_commit[:12]}",
        "dashboard: history, deep page": f"{dashboard}?before={deep_reports}",
        "dashboard: alerts open": f"{dashboard}/alerts",
        "dashboard: alerts acknowledged": f"{dashboard}/alerts?status=acknowledged",
        "dashboard: alerts resolved": f"{dashboard}/alerts?status=resolved",
        "dashboard: alerts resolved, deep page": (
            f"{dashboard}/alerts?status=resolved&before={deep_alerts}"
        ),
        "dashboard: a resolved alert": f"{dashboard}/alerts/{resolved}",
        "dashboard: an open alert": f"{dashboard}/alerts/{volume.open_alert_ids[0]}",
    }


def timed_get(client: httpx.Client, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return elapsed, len(response.content)


def measure(short: Side, long: Side, repeat: int, warmup: int) -> list[Figure]:
    short_pages, long_pages = pages(short.volume), pages(long.volume)
    figures = []
    for name, short_path in short_pages.items():
        long_path = long_pages[name]
        times: dict[str, list[float]] = {"short": [], "long": []}
        sizes = {"short": 0, "long": 0}
        for round_ in range(warmup + repeat):
            # Alternate which goes first, so neither always meets a warmer cache.
            order = [(short, short_path), (long, long_path)]
            for side, path in order if round_ % 2 == 0 else order[::-1]:
                seconds, size = timed_get(side.client, path)
                if round_ >= warmup:
                    times[side.name].append(seconds)
                    sizes[side.name] = size
        short_ms = statistics.median(times["short"]) * 1000
        long_ms = statistics.median(times["long"]) * 1000
        # The median of each round's own ratio: both requests of a round run
        # back to back, so a busy moment of the machine slows both alike.
        ratio = statistics.median(
            long_s / short_s for short_s, long_s in zip(times["short"], times["long"], strict=True)
        )
        best_ratio = min(times["long"]) / min(times["short"])
        figures.append(
            Figure(name, short_ms, long_ms, ratio, best_ratio, sizes["short"], sizes["long"])
        )
        print(
            f"{name:44} {short_ms:8.2f} {long_ms:8.2f} {ratio:6.2f}x {best_ratio:6.2f}x"
            f" {sizes['short']:9d} {sizes['long']:9d}",
            flush=True,
        )
    return figures


@contextmanager
def side(
    name: str,
    postgres: PostgresServer,
    databases: Databases,
    workdir: Path,
    *,
    reports: int,
    alerts: int,
) -> Iterator[Side]:
    database = databases.create()
    env = {
        "CLEF_PRO_DATABASE_URL": postgres.url(database),
        "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLEF_PRO_DATA_DIR": str(workdir / name),
        "CLEF_PRO_LOG_LEVEL": "warning",
    }
    server = start_server(env, workdir / f"{name}.log")
    try:
        with server.client() as admin:
            started = time.perf_counter()
            volume = seed_volume(
                ServiceClient(admin),
                postgres.url(database, "postgresql"),
                INTEGRATION,
                reports=reports,
                alerts=alerts,
            )
            print(
                f"seeded {name}: {reports} reports, {alerts} alerts"
                f" in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
        with httpx.Client(
            base_url=server.url, timeout=120, headers=admin_headers(), follow_redirects=False
        ) as client:
            signed_in = client.post("/sign-in", data={"token": ADMIN_TOKEN, "next": "/"})
            if signed_in.status_code != 303:
                raise RuntimeError(f"dashboard sign-in: {signed_in.status_code}")
            yield Side(name, server, client, volume)
    finally:
        server.stop()
        databases.drop(database)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-reports", type=int, default=100)
    parser.add_argument("--short-alerts", type=int, default=120)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="clef-pro-bench-reads-"))
    postgres = start_postgres()
    try:
        databases = Databases(postgres)
        with ExitStack() as stack:
            short = stack.enter_context(
                side(
                    "short",
                    postgres,
                    databases,
                    workdir,
                    reports=args.short_reports,
                    alerts=args.short_alerts,
                )
            )
            long = stack.enter_context(
                side("long", postgres, databases, workdir, reports=args.reports, alerts=args.alerts)
            )
            print(
                f"\nmachine: {platform.machine()}, {platform.python_implementation()}"
                f" {platform.python_version()}, {sys.platform}"
            )
            print(
                f"{'page':44} {'short ms':>8} {'long ms':>8} {'ratio':>7} {'best':>7}"
                f" {'short B':>9} {'long B':>9}"
            )
            figures = measure(short, long, args.repeat, args.warmup)
    finally:
        postgres.stop()
        shutil.rmtree(postgres.root, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)

    worst = max(figures, key=lambda figure: figure.ratio)
    worst_best = max(figures, key=lambda figure: figure.best_ratio)
    largest = max(figures, key=lambda figure: figure.long_bytes)
    print(
        f"\nworst ratio {worst.ratio:.2f}x ({worst.page}); target <= {TARGET_RATIO}x:"
        f" {'met' if worst.ratio <= TARGET_RATIO else 'NOT met'}"
    )
    print(f"worst ratio of best times {worst_best.best_ratio:.2f}x ({worst_best.page})")
    print(f"largest long response {largest.long_bytes} bytes ({largest.page})")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(figure) for figure in figures], indent=2))
    return 0 if worst.ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
