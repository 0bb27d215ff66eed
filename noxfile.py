"""Every check the project runs, as nox sessions.

``nox`` with no arguments runs all of them; CI (``.ci/run``) runs exactly that. Run one with
``nox -s tests``, pass pytest options after ``--`` (``nox -s tests -- -k webhooks -x``), list them
with ``nox -l``.

Sessions install the project (editable, so a reused environment always sees the current
``src/``) with the extra they need from ``pyproject.toml``; ``examples`` installs a freshly built
wheel instead, so it also proves the packaging.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = [
    "lint",
    "imports",
    "typecheck",
    "monitoring",
    "tests",
    "tests_postgres",
    "examples",
]

PYTHON = "3.11"
ROOT = Path(__file__).parent
PROJECT = "integration-service"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROMTOOL_INSTALL = "apt-get install -y --no-install-recommends prometheus"
# Not a project extra: only the monitoring consistency check (tools/check_monitoring.py) needs it.
PYYAML = "pyyaml>=6.0.1"


def _install_editable(session: nox.Session, extra: str, *more: str) -> None:
    session.install("-e", f".[{extra}]", *more)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check over the whole repository, and every YAML file parses."""
    _install_editable(session, "lint", PYYAML)
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")
    session.run("python", "tools/check_yaml.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Mypy, strict, over the src/ packages (configured in pyproject.toml)."""
    _install_editable(session, "typecheck")
    session.run("mypy", *session.posargs)


@nox.session(python=PYTHON)
def imports(session: nox.Session) -> None:
    """Import-linter contracts hold, and a deliberate violation of each one is caught."""
    _install_editable(session, "imports")
    session.run("lint-imports", "--no-cache")
    session.run("python", "tools/check_import_contracts.py")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every test not marked ``postgres`` (some need Redis at TEST_REDIS_URL); exit code 5 fails."""
    _install_editable(session, "test")
    session.run("pytest", "-m", "not postgres", *session.posargs)


@nox.session(python=PYTHON)
def tests_postgres(session: nox.Session) -> None:
    """The tests marked ``postgres``, against a real server at TEST_POSTGRES_URL.

    Never skips: an unreachable server fails the session, and so does pytest's exit code 5
    (no ``postgres`` test collected).
    """
    url = os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    _install_editable(session, "test")
    env = {"TEST_POSTGRES_URL": url}
    # The URL travels in the environment, not argv: nox logs argv, and a URL may hold a password.
    session.run("python", "tools/check_postgres.py", env=env)
    session.run("pytest", "-m", "postgres", *session.posargs, env=env)


@nox.session(python=PYTHON)
def monitoring(session: nox.Session) -> None:
    """Promtool validates the Prometheus config and alert rules and runs their unit tests."""
    promtool = shutil.which("promtool")
    if promtool is None:
        session.error(
            "promtool is not on PATH. It ships in Debian's `prometheus` package: "
            f"`sudo {PROMTOOL_INSTALL}` (on macOS: `brew install prometheus`)"
        )
    session.run(promtool, "--version", external=True)
    session.run(promtool, "check", "config", "monitoring/prometheus.yml", external=True)
    session.run(promtool, "check", "rules", "monitoring/alerts.yml", external=True)
    session.run(promtool, "test", "rules", "monitoring/alerts.test.yml", external=True)
    # What promtool cannot see: a runbook section behind every runbook_url, a firing and a
    # quiet test case for every alert, and only metric names that src/ really defines.
    session.install(PYYAML)
    session.run("python", "tools/check_monitoring.py")


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    """Run every examples/*.py against a freshly built, non-editable install; each exits 0."""
    scripts = sorted(ROOT.glob("examples/*.py"))
    if not scripts:
        session.error("no examples/*.py found: this session would prove nothing")
    # uv never reinstalls a local project that is already installed: force it, or a reused
    # environment would run the examples against a stale build.
    reinstall = ["--reinstall-package", PROJECT] if session.venv_backend == "uv" else []
    session.install(".[test]", *reinstall)
    workdir = Path(session.create_tmp()).resolve()
    for script in scripts:
        # A fresh, empty working directory per example: none may depend on the repository
        # layout or leave a SQLite file or a key file in the tree.
        rundir = workdir / script.stem
        shutil.rmtree(rundir, ignore_errors=True)
        rundir.mkdir(parents=True)
        with session.chdir(rundir):
            session.run("python", str(script.resolve()))
