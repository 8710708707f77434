"""A private PostgreSQL server for the tests: Debian's `postgresql`, `initdb` in a temporary folder,
listening on 127.0.0.1 and a free port, stopped afterwards.

The cluster runs as the `postgres` OS user when the tests run as root (PostgreSQL refuses to run
as root), else as the current user. Each test database is owned by its own NON-superuser role,
which is how the app connects in production.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from tests.servers import free_port

SUPERUSER = "postgres"
START_TIMEOUT_S = 60


def _bin_dir() -> Path | None:
    """Debian's versioned binaries folder (initdb and pg_ctl are not on PATH there)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


@dataclass
class PostgresServer:
    """A running private cluster: superuser `postgres` with `password` on 127.0.0.1:`port`."""

    port: int
    password: str
    data_dir: Path
    pg_ctl: list[str]  # the pg_ctl command line (run as the cluster's OS user) up to its action

    def restart(self) -> None:
        """Restart the server (fast shutdown: open connections are cut, as in a crash of the peer)."""
        subprocess.run([*self.pg_ctl, "-m", "fast", "-w", "restart"], check=True, capture_output=True)

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        """A superuser connection in autocommit mode (for setting up roles and databases)."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, password=self.password, dbname=database, autocommit=True
        )

    def create_database(self, name: str) -> str:
        """Create database `name` owned by a new non-superuser role `name`; return its SQLAlchemy URL."""
        password = secrets.token_hex(8)
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name)))
        url = URL.create("postgresql+psycopg", name, password, "127.0.0.1", self.port, name)
        return url.render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        """Drop database `name` and its role (closing any connection still open to it)."""
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def postgres_server(fsync: bool = False) -> Iterator[PostgresServer]:
    """Start a private cluster in a temporary folder; stop it and delete the folder afterwards.

    Tests run without fsync (faster, and a crash of the machine loses nothing a test needs);
    benchmarks pass `fsync=True` for production-like figures.
    """
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: install Debian's postgresql (./run.sh test does)")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="emotion-pg-"))
    data = root / "data"
    password = secrets.token_hex(12)
    port = free_port()
    try:
        (root / "pw").write_text(password)
        if owner is not None:
            for path in (root, root / "pw"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            [
                *run_as,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-A",
                "scram-sha-256",
                "-U",
                SUPERUSER,
                "--pwfile",
                str(root / "pw"),
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root}"
        options += f" -c fsync={'on' if fsync else 'off'}"
        pg_ctl = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options]
        subprocess.run([*pg_ctl, "-w", "-t", str(START_TIMEOUT_S), "start"], check=True, capture_output=True)
        server = PostgresServer(port, password, data, pg_ctl)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                server.admin().close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            yield server
        finally:
            subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
