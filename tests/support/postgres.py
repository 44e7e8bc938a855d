"""A real PostgreSQL server for the tests, started from Debian's binaries with pg_ctl.

PostgreSQL refuses to run as root, and CI runs as root, so when we are root
the server runs as the ``postgres`` system user that Debian's package creates.
The cluster is throwaway: ``fsync`` is off, which only matters if the machine
itself crashes.

Each test gets a database of its own, cloned from a template that already has
the migrations applied, so a test costs a ``CREATE DATABASE`` and not a
migration run.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from clef_pro_api.storage.migrate import upgrade

SUPERUSER = "clefpro"
TEMPLATE = "clef_template"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def postgres_bindir() -> Path:
    """Debian installs the server under /usr/lib/postgresql/<major>/bin."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = Path(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
        if (bindir / "pg_ctl").exists():
            return bindir
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    return candidates[-1].parent


@dataclass
class PostgresServer:
    port: int
    root: Path
    bindir: Path
    run_as: list[str]

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url(database, "postgresql"), autocommit=True)

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate", "-w")


def start_postgres() -> PostgresServer:
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="clef-pro-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(port=free_port(), root=root, bindir=bindir, run_as=run_as)
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = " ".join(
        [
            f"-p {server.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={root}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=300",
        ]
    )
    server._pg_ctl("start", "-w", "-t", "60", "-l", str(root / "server.log"), "-o", options)
    return server


class Databases:
    """Per-test databases cloned from one migrated template."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self._counter = itertools.count()
        self._template_ready = False

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        with self.server.connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
        upgrade(self.server.url(TEMPLATE))
        self._template_ready = True

    def create(self) -> str:
        self._ensure_template()
        name = f"test_{os.getpid()}_{next(self._counter)}"
        with self.server.connect() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(TEMPLATE)
                )
            )
        return name

    def drop(self, name: str) -> None:
        with self.server.connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def fresh(self) -> Iterator[str]:
        name = self.create()
        try:
            yield name
        finally:
            self.drop(name)
