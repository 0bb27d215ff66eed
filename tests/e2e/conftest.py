"""Run the real command line in subprocesses: a fresh working directory, a clean environment.

Each service runs as ``python -m integration_service serve`` with only the variables a test
gives it (plus ``PATH``), so nothing from the developer's shell leaks in; its stdout and stderr
go to files, read once it has stopped (the service does not force-flush its logs).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from ..fakes.background import BackgroundLoop
from .messaging_sink import MessagingSink, new_signing_secret

STARTUP_TIMEOUT = 30.0  # imports alone take seconds on a loaded CI machine
STOP_TIMEOUT = 10.0
CLI = [sys.executable, "-m", "integration_service"]
CONSOLE_SCRIPT = Path(sys.executable).with_name("integration-service")


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**env: str) -> dict[str, str]:
    """Return an environment with only *env* and what a process needs to start."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}


def get_json(url: str, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    """GET *url*; return its status and JSON body (for error statuses too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class Service:
    """One ``serve`` process and the files its output goes to."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, logs: Path) -> None:
        self.process = process
        self.port = port
        self._logs = logs

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/health"

    def health(self) -> int | None:
        """Return the health status code, or ``None`` while nothing answers."""
        try:
            return get_json(self.health_url, timeout=5)[0]
        except (OSError, ValueError):
            return None

    def wait_for_health(self, status: int, timeout: float = STARTUP_TIMEOUT) -> None:
        """Poll health until it answers *status*; fail with the output if it never does."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the service exited with {self.process.returncode}:\n{self.output()}")
            seen = self.health()
            if seen == status:
                return
            time.sleep(0.2)
        pytest.fail(f"health never answered {status} (last: {seen}) in {timeout}s")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send *sig* and return the exit code (failing if it takes too long)."""
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"no exit within {STOP_TIMEOUT}s of {sig.name}:\n{self.output()}")

    def output(self) -> str:
        """Return what the process wrote to stdout and stderr so far."""
        return "".join(
            (self._logs / name).read_text(errors="replace") for name in ("stdout", "stderr")
        )

    def log_lines(self) -> list[dict[str, Any]]:
        """Return the JSON log lines of stdout."""
        text = (self._logs / "stdout").read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


StartService = Callable[..., Service]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Return an empty working directory for the processes of one test."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def start_service(workdir: Path, tmp_path: Path) -> Iterator[StartService]:
    """Return a function that starts ``serve`` in *workdir*; every one is killed at teardown."""
    started: list[Service] = []

    def start(*args: str, port: int | None = None, **env: str) -> Service:
        """Start ``serve *args``; *port* is where it listens (default: a free ``PORT``)."""
        if port is None:
            port = free_port()
            env = {"PORT": str(port), **env}
        logs = tmp_path / f"logs-{len(started)}"
        logs.mkdir()
        with (logs / "stdout").open("wb") as out, (logs / "stderr").open("wb") as err:
            process = subprocess.Popen(
                [*CLI, "serve", *args],
                cwd=workdir,
                env=clean_env(HOST="127.0.0.1", **env),
                stdout=out,
                stderr=err,
            )
        service = Service(process, port, logs)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()


@pytest.fixture
def run_cli(workdir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Return a function that runs the console script in *workdir* to completion."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CONSOLE_SCRIPT), *args],
            cwd=workdir,
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def postgres_database(postgres_url: str, postgres_admin: psycopg.Connection[Any]) -> Iterator[str]:
    """Yield the libpq URL of a new, empty (never migrated) database, dropped afterwards."""
    name = f"is_e2e_{secrets.token_hex(5)}"
    postgres_admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(postgres_url).set(drivername="postgresql", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        postgres_admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


class TcpProxy:
    """Forward 127.0.0.1:*port* to a target; close it to make the target unreachable.

    Closing stops listening *and* resets every open connection, as a database crash or a
    network partition would, so pooled connections die too. Runs its own event loop in a
    thread, so synchronous tests can drive it.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._background = BackgroundLoop()
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()

    def open(self) -> None:
        """Start accepting and forwarding connections."""
        self._background.run(self._open())

    def close(self) -> None:
        """Stop listening and reset every forwarded connection."""
        self._background.run(self._close())

    def shutdown(self) -> None:
        """Close, then stop the proxy's thread."""
        self.close()
        self._background.stop()

    async def _open(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer.transport, upstream_writer.transport}
        self._transports |= pair
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )
        for transport in pair:
            transport.abort()
        self._transports -= pair


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


@pytest.fixture
def postgres_proxy(postgres_url: str) -> Iterator[TcpProxy]:
    """Yield a closed :class:`TcpProxy` to the test PostgreSQL server."""
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield proxy
    finally:
        proxy.shutdown()


@pytest.fixture
def sink() -> Iterator[MessagingSink]:
    """Yield a running fake messaging service with a fresh signing secret."""
    running = MessagingSink(new_signing_secret()).start()
    try:
        yield running
    finally:
        running.shutdown()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of an empty database: an SQLite file, or a new PostgreSQL database.

    The ``postgres`` case is marked ``postgres`` by its id and fails without a server.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'e2e.sqlite'}"
    return str(request.getfixturevalue("postgres_database"))
