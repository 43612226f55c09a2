"""A PostgreSQL server for the tests run with ``--database postgresql``, and a fresh database per ledger.

The server is the one :data:`ENV` names (a SQLAlchemy URL whose user may ``CREATE DATABASE``), else a
throwaway cluster started on first use: ``initdb`` and ``pg_ctl`` (as the ``postgres`` user when running as
root: the server refuses root) in a temporary directory, listening on a Unix socket in it only, fsync off, its
``TimeZone`` not UTC (America/Lima), so nothing may depend on the server's zone.
:func:`stop` ends it (or, on a given server, drops the databases made) when the session ends.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

ENV = "SOLIDARITY_MAILER_TEST_POSTGRES"
_QUIET = {"check": True, "capture_output": True, "text": True}
_state: dict[str, object] = {}  # "url": the server's URL; "dir": the cluster's directory; "made": database names


def _bin(tool: str) -> str:
    """``tool`` from PATH, else from the newest /usr/lib/postgresql/*/bin (Debian keeps them off PATH)."""
    found = shutil.which(tool) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)),
                                       None)
    if found is None:
        raise RuntimeError(f"{tool} not found: install PostgreSQL (Debian: apt-get install postgresql) or set {ENV}")
    return found


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def start_cluster() -> URL:
    """A new cluster in a temporary directory, its socket there and no TCP; the URL of its superuser."""
    cluster = Cluster(durable=False)
    _state["dir"] = cluster.directory
    return cluster.url


class Cluster:
    """A PostgreSQL cluster of its own in a new temporary directory (socket there, no TCP), started at once; a test
    may stop and start it (:meth:`stop`, :meth:`start`) without disturbing the session's server, and
    :meth:`remove` it. ``durable``: a COMMIT acknowledged survives an immediate stop (``synchronous_commit`` on, as
    by default in production; the session's server turns it off for speed)."""

    def __init__(self, *, durable: bool = True) -> None:
        self.durable = durable
        self.directory = Path(tempfile.mkdtemp(prefix="solidarity-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self.data = self.directory / "data"
        subprocess.run(_as_server_user([_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                                        "--no-sync", "-E", "UTF8", "--no-locale"]), **_QUIET)  # type: ignore[call-overload]
        self.start()
        self.url = URL.create("postgresql+psycopg", username="postgres", database="postgres",
                              query={"host": str(self.directory)})

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-k {self.directory} -c listen_addresses='' -c fsync=off -c full_page_writes=off "
                   f"-c synchronous_commit={'on' if self.durable else 'off'} -c max_connections=300 "
                   "-c timezone=America/Lima")
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "server.log"),
                                        "-w", "-t", "60", "-o", options, "start"]), **_QUIET)  # type: ignore[call-overload]

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE`` (fast: sessions ended with 57P01; immediate: no goodbye, recovery at start)."""
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"]),
                       **_QUIET)  # type: ignore[call-overload]

    def create_database(self, name: str) -> str:
        """A new empty database on this cluster; its URL."""
        with psycopg.connect(dbname="postgres", user="postgres", host=str(self.directory), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[arg-type]
        return self.url.set(database=name).render_as_string(hide_password=False)

    def remove(self) -> None:
        """Stop the server (if running) and delete the cluster."""
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)


def server() -> URL:
    """The server's URL (its maintenance database): :data:`ENV`'s, or a cluster started now."""
    if "url" not in _state:
        given = os.environ.get(ENV)
        _state["url"] = make_url(given) if given else start_cluster()
        _state["made"] = []
    return _state["url"]  # type: ignore[return-value]


def _execute(sql: str) -> None:
    url = server()
    params = {"dbname": url.database, "user": url.username, "password": url.password, "host": url.host,
              "port": url.port, **url.query}
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def database(key: str) -> str:
    """The URL of the database for ``key`` (a path: one test's ledger), created empty the first time."""
    name = "t_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    url = server()  # first: starting the server resets the list of databases made
    made: list[str] = _state.setdefault("made", [])  # type: ignore[assignment]
    if name not in made:
        _execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        made.append(name)
    return url.set(database=name).render_as_string(hide_password=False)


def stop() -> None:
    """Stop the cluster started here and remove it; on a given server, drop the databases made."""
    if "url" not in _state:
        return
    directory = _state.pop("dir", None)
    if isinstance(directory, Path):
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(directory / "data"), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
    else:
        for name in _state.get("made", []):  # type: ignore[attr-defined]
            _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _state.clear()
