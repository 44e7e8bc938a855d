"""Notification throughput: the outbox pipeline against a bare aiosmtplib loop.

Why: a mail sent by the pipeline costs more than one SMTP transaction. The
sender claims a batch with ``SELECT ... FOR UPDATE SKIP LOCKED``, renders each
digest through the Jinja2 templates, delivers, and records every attempt in its
own transaction. This benchmark tells how much that costs against the least
any design could do with the same mails: aiosmtplib sending the same, already
rendered messages one after the other over one connection, with no database.

Both sides send to the same SMTP server, an aiosmtpd process of its own (so it
competes with neither side for the GIL) that logs the time it accepted each
mail. Rates are read there: mails / (last accepted - first accepted). The ratio
pipeline / bare loop is what to compare between runs and machines.

The pipeline runs as real ``clef-pro serve`` processes (``--replicas``) on a
throwaway PostgreSQL whose outbox was filled beforehand by ingesting one report
per mail (a report that fails a rule notifies the integration's email channel).

Run on demand, not in CI::

    .venv/bin/python -m bench.notifications [--mails N] [--replicas R] [--batch-size B]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from email.mime.multipart import MIMEMultipart
from pathlib import Path

import aiosmtplib
from sqlalchemy import func, select

from clef_pro.domain.config import EmailChannel, IntegrationConfig
from clef_pro.domain.notify import DeliveryStatus, Digest, message_id
from clef_pro.domain.report import Report
from clef_pro_api.notifications.backend import Delivery
from clef_pro_api.notifications.email import build_message
from clef_pro_api.notifications.render import Links
from clef_pro_api.services import ingest, integrations
from clef_pro_api.storage import models
from clef_pro_api.storage.db import create_db_engine, session_factory, transaction
from clef_pro_api.storage.exchange import Exchange
from tests.support.contract import failing, spec_report
from tests.support.postgres import Databases, PostgresServer, free_port, start_postgres
from tests.support.server import ServerProcess, start_server
from tests.support.service import ADMIN_TOKEN

SENDER = "Clef Pro <alerts@bench.example>"
CHANNEL = EmailChannel(name="team", to=["team@bench.example"])

#: The SMTP server: aiosmtpd in its own process, logging "<monotonic> <Message-ID>".
SINK_PROGRAM = r"""
import sys, time
from aiosmtpd.controller import Controller

class Sink:
    def __init__(self, log):
        self.log = log

    async def handle_DATA(self, server, session, envelope):
        found = b""
        for line in envelope.original_content.split(b"\r\n"):
            if not line:
                break
            if line[:11].lower() == b"message-id:":
                found = line[11:].strip()
                break
        self.log.write(f"{time.monotonic()} {found.decode()}\n")
        self.log.flush()
        return "250 OK"

log = open(sys.argv[2], "a", buffering=1)
controller = Controller(Sink(log), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


@dataclass
class SmtpSink:
    port: int
    process: subprocess.Popen[str]
    log: Path

    def accepted(self) -> list[tuple[float, str]]:
        if not self.log.exists():
            return []
        rows = []
        for line in self.log.read_text().splitlines():
            stamp, _, mid = line.partition(" ")
            rows.append((float(stamp), mid))
        return rows

    def wait_for(self, count: int, timeout: float) -> list[tuple[float, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.accepted()
            if len(rows) >= count:
                return rows
            time.sleep(0.05)
        raise RuntimeError(f"the SMTP server accepted {len(self.accepted())} of {count} mails")


@contextmanager
def smtp_sink(log: Path) -> Iterator[SmtpSink]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SINK_PROGRAM, str(port), str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP server did not start")
    try:
        yield SmtpSink(port, process, log)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def fill_outbox(url: str, mails: int) -> list[MIMEMultipart]:
    """Ingest one failing report per mail; returns the messages the outbox will send."""
    engine = create_db_engine(url, pool_size=2)
    sessions = session_factory(engine)
    config = IntegrationConfig(display_name="Bench", channels=[CHANNEL])
    with transaction(sessions) as session:
        integrations.upsert(session, "bench", config)
    for index in range(1, mails + 1):
        body = spec_report(
            f"{index:040x}",
            timestamp=index,
            policy_results=[failing("missing_keys", "oauth/production")],
        )
        with engine.connect() as connection, Exchange(connection) as exchange:
            result = ingest.ingest(exchange, ingest.ById("bench"), [Report.model_validate(body)])
            exchange.commit()
            if len(result.notifications) != 1:
                raise RuntimeError("a report did not queue exactly one mail")
    links = Links("https://clef.bench.example")
    with sessions() as session:
        rows = session.scalars(select(models.Notification).order_by(models.Notification.id))
        messages = [
            build_message(
                Delivery(
                    notification_id=row.id,
                    # The bare loop's copies get IDs of their own, to tell them apart.
                    message_id=message_id(f"bare-{row.id}", SENDER),
                    attempt=1,
                    created_at=row.created_at,
                    channel=CHANNEL,
                    digest=Digest.from_payload(row.payload),
                ),
                sender=SENDER,
                links=links,
            )
            for row in rows
        ]
    engine.dispose()
    return messages


async def bare_loop(port: int, messages: Sequence[MIMEMultipart]) -> float:
    """aiosmtplib alone: every message in turn over one connection. Wall seconds."""
    started = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
        for message in messages:
            await client.send_message(message)
    return time.perf_counter() - started


def rate(rows: Sequence[tuple[float, str]]) -> float:
    """Mails per second between the first and the last acceptance."""
    stamps = sorted(stamp for stamp, _ in rows)
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


@dataclass
class Result:
    mails: int
    replicas: int
    batch_size: int
    bare_mails_per_second: float
    pipeline_mails_per_second: float
    pipeline_wall_seconds: float
    ratio_pipeline_over_bare: float


def schedule(postgres: PostgresServer, database: str, when: str) -> None:
    with postgres.connect(database) as connection:
        connection.execute(f"UPDATE notifications SET next_attempt_at = {when}")  # noqa: S608


def count_sent(url: str) -> int:
    engine = create_db_engine(url, pool_size=1)
    with session_factory(engine)() as session:
        sent = session.scalar(
            select(func.count()).where(models.Notification.status == DeliveryStatus.SENT)
        )
    engine.dispose()
    return int(sent or 0)


def run(mails: int, replicas: int, batch_size: int, workdir: Path) -> Result:
    postgres = start_postgres()
    try:
        databases = Databases(postgres)
        database = databases.create()
        url = postgres.url(database)
        print(f"filling the outbox with {mails} mails ...", flush=True)
        messages = fill_outbox(url, mails)

        with smtp_sink(workdir / "bare.log") as sink:
            asyncio.run(bare_loop(sink.port, messages[: min(100, mails)]))  # warm up
            warm = len(sink.accepted())
            asyncio.run(bare_loop(sink.port, messages))
            bare_rows = sink.wait_for(warm + mails, 60)[warm:]
        bare = rate(bare_rows)

        with smtp_sink(workdir / "pipeline.log") as sink:
            env = {
                "CLEF_PRO_DATABASE_URL": url,
                "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN,
                "CLEF_PRO_LOG_LEVEL": "warning",
                "CLEF_PRO_SMTP_HOST": "127.0.0.1",
                "CLEF_PRO_SMTP_PORT": str(sink.port),
                "CLEF_PRO_SMTP_FROM": SENDER,
                "CLEF_PRO_NOTIFY_BATCH_SIZE": str(batch_size),
                "CLEF_PRO_AUTO_MIGRATE": "false",
            }
            servers: list[ServerProcess] = []
            try:
                # Hold the outbox back until every replica is up, so that start-up
                # (imports, pools) is not measured, then release it all at once.
                schedule(postgres, database, "'2100-01-01'")
                for index in range(replicas):
                    servers.append(start_server(env, workdir / f"server-{index}.log"))
                started = time.monotonic()
                schedule(postgres, database, "now()")
                pipeline_rows = sink.wait_for(mails, 600)
                wall = time.monotonic() - started
            finally:
                for server in servers:
                    server.stop()
        if len({mid for _, mid in pipeline_rows}) != mails or len(pipeline_rows) != mails:
            raise RuntimeError("the pipeline sent a mail twice or missed one")
        if count_sent(url) != mails:
            raise RuntimeError("the outbox does not record every mail as sent")
        pipeline = rate(pipeline_rows)
    finally:
        postgres.stop()
    return Result(mails, replicas, batch_size, bare, pipeline, wall, pipeline / bare)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.notifications", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--mails", type=int, default=2000, help="mails per side (2000)")
    parser.add_argument("--replicas", type=int, default=1, help="clef-pro serve processes (1)")
    parser.add_argument(
        "--batch-size", type=int, default=20, help="CLEF_PRO_NOTIFY_BATCH_SIZE (20)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.mails < 2 or args.replicas < 1:
        parser.error("need at least two mails and one replica")

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="clef-pro-bench-") as workdir:
        result = run(args.mails, args.replicas, args.batch_size, Path(workdir))
    print(
        f"\n{result.mails} mails, {result.replicas} replica(s), batch {result.batch_size}:\n"
        f"  bare aiosmtplib loop (one connection)  {result.bare_mails_per_second:8.0f} mails/s\n"
        f"  outbox pipeline (claim, render, send,  {result.pipeline_mails_per_second:8.0f} mails/s"
        f"   ({result.pipeline_wall_seconds:.1f} s from release to the last mail)\n"
        f"    record each attempt)\n"
        f"  ratio pipeline / bare: {result.ratio_pipeline_over_bare:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
