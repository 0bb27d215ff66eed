"""The command line as operators run it: real processes, real sockets, real signals."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
from sqlalchemy.engine import make_url

from adapters_db.migrate import head_revision

RunCli = Callable[..., subprocess.CompletedProcess[str]]
StartService = Callable[..., Any]
KEY_FILE = "integration-service.db.keys.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_clean_failure(result: subprocess.CompletedProcess[str], *names: str) -> list[str]:
    """Assert exit code 2, one problem line per variable, no traceback; return the lines."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "invalid configuration:"
    assert all(line.startswith("- ") for line in lines[1:]), result.stderr
    problems = [line.removeprefix("- ") for line in lines[1:]]
    assert [p.split(":")[0] for p in problems] == list(names), result.stderr
    return problems


# --------------------------------------------------------------------------- SQLite


def test_serve_with_no_configuration_survives_a_restart_with_the_same_keys(
    start_service: StartService, run_cli: RunCli, workdir: Path
) -> None:
    service = start_service()
    service.wait_for_health(200)

    key_file = workdir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (workdir / "integration-service.db").exists()
    keys_before = key_file.read_text()
    minted = run_cli("token", "--tenant", "t1")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert "development JWT_SECRET" in minted.stderr

    assert service.stop(signal.SIGTERM) == 0
    warnings = [line for line in service.log_lines() if line.get("level") == "warning"]
    assert any(w["event"].startswith("DEVELOPMENT KEYS IN USE") for w in warnings)
    assert any("fail closed" in w["event"] for w in warnings)
    assert keys_before not in service.output(), "the key file's content is never logged"
    assert any(line["event"] == "migrations_applied" for line in service.log_lines())

    restarted = start_service()
    restarted.wait_for_health(200)
    assert key_file.read_text() == keys_before, "the keys are reused, not regenerated"
    secret = json.loads(key_file.read_text())["JWT_SECRET"]
    claims = jwt.decode(token, secret.encode(), algorithms=["HS256"])
    assert claims["tenant_id"] == "t1"
    assert set(claims["scope"].split()) == {
        "integrations:read",
        "integrations:write",
        "payments:read",
        "payments:write",
        "events:read",
        "events:write",
    }
    assert 86000 < claims["exp"] - claims["iat"] <= 86400
    assert restarted.stop(signal.SIGINT) == 0


def test_token_options(run_cli: RunCli, workdir: Path) -> None:
    result = run_cli(
        "token", "--tenant", "t2", "--scope", "events:read", "--expires", "30m", "--subject", "ops"
    )

    assert result.returncode == 0, result.stderr
    secret = json.loads((workdir / KEY_FILE).read_text())["JWT_SECRET"]
    claims = jwt.decode(result.stdout.strip(), secret.encode(), algorithms=["HS256"])
    assert (claims["tenant_id"], claims["scope"], claims["sub"]) == ("t2", "events:read", "ops")
    assert claims["exp"] - claims["iat"] == 1800

    configured = run_cli("token", "--tenant", "t3", JWT_SECRET="x" * 40, JWT_EXPIRY="2h")
    claims = jwt.decode(configured.stdout.strip(), b"x" * 40, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 7200

    bad_scope = run_cli("token", "--tenant", "t1", "--scope", "events:read root")
    assert bad_scope.returncode == 2
    assert "--scope: unknown root" in bad_scope.stderr
    assert run_cli("token").returncode == 2, "--tenant is required"


def test_production_without_secrets_refuses_to_start(run_cli: RunCli, workdir: Path) -> None:
    result = run_cli("serve", ENVIRONMENT="production")

    problems = assert_clean_failure(result, "JWT_SECRET", "ENCRYPTION_KEY")
    assert all("required when ENVIRONMENT=production" in p for p in problems)
    assert not list(workdir.iterdir()), "production never writes keys or a database"


def test_every_bad_variable_is_listed_at_once(run_cli: RunCli) -> None:
    result = run_cli(
        "serve",
        PORT="http",
        ENCRYPTION_KEY="not-a-32-byte-key",
        MESSAGING_SIGNING_SECRET="plain-signing-value",
        FORWARD_RETRY_SCHEDULE="5s,soon",
        AUTO_MIGRATE="perhaps",
    )

    assert_clean_failure(
        result,
        "PORT",
        "AUTO_MIGRATE",
        "ENCRYPTION_KEY",
        "MESSAGING_SIGNING_SECRET",
        "FORWARD_RETRY_SCHEDULE",
    )
    assert "not-a-32-byte-key" not in result.stderr
    assert "plain-signing-value" not in result.stderr


def test_migrate_on_sqlite_prints_the_revision(run_cli: RunCli, workdir: Path) -> None:
    first = run_cli("migrate")
    again = run_cli("migrate")

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == head_revision()
    assert again.stdout.strip() == head_revision(), "migrating twice is harmless"
    assert (workdir / "integration-service.db").exists()


def test_an_unexpected_error_is_one_line_without_a_traceback(run_cli: RunCli) -> None:
    unreachable = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"

    result = run_cli("migrate", DATABASE_URL=unreachable)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "integration-service: error: StorageUnavailable: "
        "The database cannot be reached; try again later."
    )
    assert "Traceback" not in result.stderr
    debug = run_cli("migrate", DATABASE_URL=unreachable, LOG_LEVEL="debug")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_port_and_host_options_override_the_environment(start_service: StartService) -> None:
    port = free_port()
    service = start_service("--host", "127.0.0.1", "--port", str(port), port=port, PORT="1")
    service.wait_for_health(200)

    assert service.stop() == 0
    listening = next(line for line in service.log_lines() if line["event"] == "listening")
    assert (listening["host"], listening["port"]) == ("127.0.0.1", port)


def test_auto_migrate_false_serves_without_migrating(start_service: StartService) -> None:
    service = start_service(AUTO_MIGRATE="false")
    service.wait_for_health(200)

    assert service.stop() == 0
    events = [line["event"] for line in service.log_lines()]
    assert "auto_migrate_disabled" in events
    assert "migrations_applied" not in events


# --------------------------------------------------------------------------- PostgreSQL


def test_serve_on_postgres_migrates_and_stops_cleanly(
    start_service: StartService, postgres_database: str, workdir: Path
) -> None:
    service = start_service(DATABASE_URL=postgres_database)
    service.wait_for_health(200)

    wait_for_revision(postgres_database)
    assert service.stop() == 0
    key_file = workdir / ".integration-service-keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, "no SQLite file: keys in the cwd"
    assert not (workdir / "integration-service.db").exists()


def test_serve_rides_out_a_database_outage(
    start_service: StartService, postgres_database: str, postgres_proxy: Any
) -> None:
    through_proxy = make_url(postgres_database).set(host="127.0.0.1", port=postgres_proxy.port)
    service = start_service(DATABASE_URL=through_proxy.render_as_string(hide_password=False))

    # Down at start: the server answers anyway, 503, and keeps retrying the migrations.
    service.wait_for_health(503)
    assert service.process.poll() is None

    postgres_proxy.open()
    service.wait_for_health(200)
    wait_for_revision(postgres_database)

    postgres_proxy.close()
    service.wait_for_health(503, timeout=15)
    assert service.process.poll() is None, "a database outage never kills the process"

    postgres_proxy.open()
    service.wait_for_health(200, timeout=15)
    assert service.stop() == 0
    events = [line["event"] for line in service.log_lines()]
    assert "database_unavailable_retrying" in events
    assert "migrations_applied" in events


def wait_for_revision(url: str, timeout: float = 20) -> None:
    """Wait until the database at *url* is migrated to head."""
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(url) as conn:
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
        if row is not None and row[0] == head_revision():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the database was not migrated within {timeout}s")
        time.sleep(0.3)
