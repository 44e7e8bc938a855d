"""Instructions per stored report, against a bare insert counted the same way.

Why: on a small shared VM the CPU time of one report moves by a tenth and
more from one second to the next, so a change worth a few per cent cannot be
told from noise by timing it. Counting instructions can: callgrind
(``valgrind --tool=callgrind``) gives the same count to about 0.2 % from run
to run, whatever else the machine is doing. What it leaves out is the kernel
(socket calls, context switches) and waiting, which ``bench.ingest`` times.

Each side runs twice in processes of their own under callgrind, once with
a warm-up only and once with the warm-up and N reports more; the difference
of the two counts over N is what a report costs, start-up, imports,
warm-up and the process's exit cancelling out. (Switching counting on after
the warm-up, ``callgrind_control -i on``, still counts the exit, whose cost
depends on what the process imported: a bare insert's count moved from
528,000 to 862,000 per report when the service's modules were imported too.)

- **store**: what a server worker does for ``POST /api/v1/reports`` after the
  request is read: parse and validate the body, then
  :func:`~clef_pro_api.services.ingest.ingest_batch` through an exchange on a
  pooled connection, commit, and the metrics. Every report is newer than the
  last, so each one moves the HEAD and runs the alert lifecycle.
- **bare insert**: the same bodies inserted by bare psycopg into a plain
  ``jsonb`` table, one transaction each (the ceiling of ``bench.ingest``).

Compare the ratio between commits: ``git stash``, run, ``git stash pop``,
run. Run on demand, not in CI (it needs Debian's ``valgrind``)::

    .venv/bin/python -m bench.instructions [--reports N]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from bench.ingest import RAW_DATABASE, RAW_INSERT, RAW_TABLE, Encoded, environment, reports
from clef_pro.domain import apikeys
from clef_pro.domain.report import Report, validation_context
from clef_pro_api.cli import GC_THRESHOLDS
from clef_pro_api.routes.bodies import parse_json
from clef_pro_api.routes.reports import record, server_clock
from clef_pro_api.services import ingest
from clef_pro_api.settings import Settings
from clef_pro_api.storage.db import create_db_engine
from clef_pro_api.storage.exchange import Exchange

WARMUP = 100
_SUMMARY = re.compile(rb"^summary: (\d+)$", re.MULTILINE)


def _collect_as_the_server_does() -> None:
    """As ``clef-pro serve`` does: the start-up heap kept out of collections
    (on both sides, so that what the process imported costs neither any
    count)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def store_side(url: str, key: str, bodies: Sequence[Encoded]) -> None:
    """The server's storing step, in this process (run under callgrind)."""
    settings = Settings(database_url=url)
    engine = create_db_engine(url)
    caller = ingest.ByKey(apikeys.sha256_hex(key))

    def one(item: Encoded) -> None:
        context = validation_context(server_clock(settings))
        report = parse_json(Report, item.body, context=context)
        started = time.perf_counter()
        with engine.connect() as connection, Exchange(connection) as exchange:
            result = ingest.ingest_batch(exchange, caller, [], report)
            exchange.commit()
        record("single", started, result, lambda _channels: None)

    for item in bodies[:WARMUP]:
        one(item)
    _collect_as_the_server_does()
    for item in bodies[WARMUP:]:
        one(item)


def insert_side(url: str, bodies: Sequence[Encoded]) -> None:
    """The bare insert of the same bodies, in this process (under callgrind)."""
    with psycopg.connect(url) as connection:

        def one(item: Encoded) -> None:
            connection.execute(RAW_INSERT, ("instructions", item.commit_sha, item.body.decode()))
            connection.commit()

        for item in bodies[:WARMUP]:
            one(item)
        _collect_as_the_server_does()
        for item in bodies[WARMUP:]:
            one(item)


def count(side: list[str], workdir: Path, name: str) -> int:
    """Instructions the child ran, from start to exit."""
    out = workdir / f"{name}.callgrind"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.instructions",
        *side,
    ]
    log = workdir / f"{name}.log"
    # A fixed hash seed: with a random one, dicts and sets lay out differently
    # in every process and the start-up's count moves by millions.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with log.open("wb") as sink:
        finished = subprocess.run(
            command, stdout=sink, stderr=subprocess.STDOUT, check=False, env=env
        )
    if finished.returncode != 0:
        raise RuntimeError(f"{name}: exit {finished.returncode}\n{log.read_text()[-3000:]}")
    found = _SUMMARY.search(out.read_bytes())
    if found is None:
        raise RuntimeError(f"{name}: callgrind wrote no summary")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--reports", type=int, default=400, help="reports counted (400)")
    parser.add_argument("--side", choices=("store", "insert"), help=argparse.SUPPRESS)
    parser.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.side is not None:  # a child, under callgrind
        setup = json.loads(args.setup.read_text())
        # Made by the parent: making them here would cost per report too.
        bodies = [Encoded(sha, body.encode()) for sha, body in setup["bodies"]]
        bodies = bodies[: WARMUP + args.reports]
        if args.side == "store":
            store_side(setup["url"], setup["keys"][str(args.reports)], bodies)
        else:
            insert_side(setup["raw_url"], bodies)
        return 0

    if shutil.which("valgrind") is None:
        parser.error("needs valgrind (Debian's valgrind package)")
    workdir = Path(tempfile.mkdtemp(prefix="clef-pro-instructions-"))
    try:
        with environment() as setup:
            with setup.postgres.connect() as admin:
                admin.execute(f"CREATE DATABASE {RAW_DATABASE}")
            raw_url = setup.postgres.url(RAW_DATABASE, "postgresql")
            with psycopg.connect(raw_url, autocommit=True) as connection:
                connection.execute(RAW_TABLE)
            handoff = workdir / "setup.json"
            handoff.write_text(
                json.dumps(
                    {
                        "url": setup.env["CLEF_PRO_DATABASE_URL"],
                        # Each store run has an integration of its own, so that
                        # both start alike (a second run would replay the first).
                        "keys": {
                            str(n): setup.service.integration(f"instructions-{n}")
                            for n in (0, args.reports)
                        },
                        "raw_url": raw_url,
                        "bodies": [
                            (item.commit_sha, item.body.decode())
                            for item in reports(WARMUP + args.reports)
                        ],
                    }
                )
            )
            # The four runs at once: a count does not depend on the timing.
            runs = [(side, n) for side in ("store", "insert") for n in (0, args.reports)]
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                counted = dict(
                    zip(
                        runs,
                        pool.map(
                            lambda run: count(
                                [
                                    *("--side", run[0], "--reports", str(run[1])),
                                    "--setup",
                                    str(handoff),
                                ],
                                workdir,
                                f"{run[0]}-{run[1]}",
                            ),
                            runs,
                        ),
                        strict=True,
                    )
                )
            per_report = {
                side: (counted[side, args.reports] - counted[side, 0]) / args.reports
                for side in ("store", "insert")
            }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    per_store, per_insert = per_report["store"], per_report["insert"]
    print(f"reports counted: {args.reports} (after {WARMUP} of warm-up), one thread")
    print(f"  store (parse, validate, ingest, commit): {per_store:12,.0f} instructions/report")
    print(f"  bare psycopg insert of the same body:    {per_insert:12,.0f} instructions/report")
    print(f"  ratio store / bare insert:               {per_store / per_insert:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
