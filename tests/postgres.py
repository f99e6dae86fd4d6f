"""A real PostgreSQL for the tests: the one `.ci/run` started, or a throwaway cluster.

`AURORA_TEST_POSTGRES_URL` (a SQLAlchemy URL whose user may CREATE DATABASE) wins; otherwise,
when the PostgreSQL server binaries are installed, a cluster is initialised in a temp dir and
started on a free 127.0.0.1 port for the test session. Each test gets a fresh database.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

URL_ENV = "AURORA_TEST_POSTGRES_URL"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unavailable_reason() -> str | None:
    """Why no PostgreSQL can be had here, or None if one can."""
    if os.environ.get(URL_ENV):
        return None
    if _binary("initdb") is None or _binary("pg_ctl") is None:
        return (
            f"no PostgreSQL: set {URL_ENV} or install the server (apt-get install postgresql; "
            ".ci/run does both)"
        )
    return None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an admin SQLAlchemy URL (psycopg driver) of a running PostgreSQL."""
    if os.environ.get(URL_ENV):
        yield os.environ[URL_ENV]
        return
    with private_cluster() as cluster:
        yield cluster.url


class PrivateCluster:
    """A PostgreSQL cluster of the test's own, in a temp dir on a free port: tests may stop and
    restart it (never the shared server)."""

    def __init__(self, pg_ctl: str, data_dir: Path, port: int, run_as: dict) -> None:
        self.pg_ctl, self.data_dir, self.port, self.run_as = pg_ctl, data_dir, port, run_as
        self.url = f"postgresql+psycopg://aurora@127.0.0.1:{port}/postgres"

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [self.pg_ctl, "-D", str(self.data_dir / "db"), *args],
            check=check,
            capture_output=True,
            **self.run_as,
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.data_dir} "
            "-c fsync=off -c synchronous_commit=off -c max_connections=60"
        )
        self._ctl("-o", options, "-l", str(self.data_dir / "log"), "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._ctl("-m", mode, "-w", "stop", check=False)

    def start_if_stopped(self) -> None:
        status = subprocess.run(
            [self.pg_ctl, "-D", str(self.data_dir / "db"), "status"],
            capture_output=True,
            **self.run_as,
        )
        if status.returncode != 0:
            self.start()


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """Initialise and start a throwaway cluster; stopped and removed afterwards."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    assert initdb and pg_ctl, unavailable_reason()
    data_dir = Path(tempfile.mkdtemp(prefix="aurora-pg-"))
    # initdb refuses to run as root: run the server as the `postgres` system user then.
    run_as: dict = {}
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(data_dir, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid}
    subprocess.run(
        [initdb, "-D", str(data_dir / "db"), "-U", "aurora", "--auth=trust", "-E", "UTF8"]
        + ["--no-sync"],
        check=True,
        capture_output=True,
        **run_as,
    )
    cluster = PrivateCluster(pg_ctl, data_dir, _free_port(), run_as)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it afterwards."""
    name = f"aurora_test_{uuid.uuid4().hex[:12]}"
    # pre_ping: a fault test may restart its private server while the database exists.
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
