"""Every check the project runs, as nox sessions.

``nox`` with no arguments runs all of them; CI (``.ci/run``) runs exactly that. Run one with
``nox -s tests``, pass pytest options after ``--`` (``nox -s tests -- -k webhooks -x``), list them
with ``nox -l``.

Sessions install the project (editable, so a reused environment always sees the current
``src/``) with the extra they need from ``pyproject.toml``; ``examples`` installs freshly built
wheels instead (integration-core alone for the core's examples), so it also proves the packaging.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
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
    "api_contract",
    "container",
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
    """Import-linter contracts hold, src has no import cycle, and planted violations are caught."""
    _install_editable(session, "imports")
    session.run("lint-imports", "--no-cache")
    session.run("python", "tools/check_import_contracts.py")
    session.run("python", "tools/check_import_cycles.py", "--self-test")


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


# Uses 1 and 2 of the README's "Four ways to use it" run in a fresh virtualenv holding the
# integration-core wheel and nothing of the service: the first with python, the second (property
# tests) with pytest and the core's `testing` extra added. Every other examples/*.py runs with
# python against the built integration-service wheel.
CORE_ONLY_EXAMPLES = ("webhook_in_another_framework.py",)
CORE_ONLY_PROPERTY_TESTS = ("test_signature_properties.py",)
# What the core must never pull in (names as `pip list` shows them, lower-cased).
SERVICE_ONLY_DISTRIBUTIONS = ("aiohttp", "sqlalchemy", "psycopg", "integration-service")
# Imports every integration_core module but those named in argv: one that needs a package the
# core's wheel does not declare fails here, not in a user's service.
IMPORT_EVERY_CORE_MODULE = """
import importlib, pkgutil, sys
import integration_core
names = [m.name for m in pkgutil.walk_packages(integration_core.__path__, "integration_core.")]
for name in names:
    if name not in sys.argv[1:]:
        importlib.import_module(name)
print(f"imported {len(names) - len(sys.argv[1:])} integration_core modules")
"""
STRATEGIES = "integration_core.testing.strategies"  # needs the core's `testing` extra


@nox.session(python=PYTHON)
def api_contract(session: nox.Session) -> None:
    """Schemathesis against a running service: docs/openapi.yaml states exactly what it enforces.

    Every check, a fixed seed and a bounded number of examples (tools/schemathesis.toml), against
    ``integration-service serve`` on SQLite with the fake platforms of tests/fakes
    (tools/api_contract.py). Options after ``--`` go to ``schemathesis run``.
    """
    _install_editable(session, "contract")
    session.run("python", "tools/api_contract.py", "--checks", "all", *session.posargs)


@nox.session(python=PYTHON)
def container(session: nox.Session) -> None:
    """Build the Dockerfile and prove the image runs (health, non-root, SIGTERM, worker, compose).

    Needs root, Debian's docker.io and debootstrap (.ci/run installs them); the base image is
    made from Debian packages and cached (tools/container_check.py says how and where).
    """
    session.run("python", "tools/container_check.py")


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    """Build both wheels; run every examples/*.py against them, the core's without the service."""
    scripts = {script.name: script.resolve() for script in ROOT.glob("examples/*.py")}
    core_only = CORE_ONLY_EXAMPLES + CORE_ONLY_PROPERTY_TESTS
    missing = [name for name in core_only if name not in scripts]
    if missing:
        session.error(f"examples named in noxfile.py are gone: {', '.join(missing)}")
    with_service = [scripts[name] for name in sorted(scripts) if name not in core_only]
    if not with_service:
        session.error("no examples/*.py to run with the service: this would prove nothing")
    workdir = Path(session.create_tmp()).resolve()
    core_wheel, service_wheel = _build_wheels(session, workdir / "wheels")

    venv = _fresh_core_only_venv(session, workdir / "core-only-venv", core_wheel)
    with session.chdir(workdir):
        session.run(str(venv / "python"), "-c", IMPORT_EVERY_CORE_MODULE, STRATEGIES, external=True)
    for name in CORE_ONLY_EXAMPLES:
        with session.chdir(_rundir(workdir, scripts[name])):
            session.run(str(venv / "python"), str(scripts[name]), external=True)
    session.run_install(
        str(venv / "python"), "-m", "pip", "install", "--quiet",
        f"integration-core[testing] @ {core_wheel.as_uri()}", "pytest>=8.3", external=True,
    )  # fmt: skip
    _assert_core_only(session, venv)
    with session.chdir(workdir):
        session.run(str(venv / "python"), "-c", IMPORT_EVERY_CORE_MODULE, external=True)
    for name in CORE_ONLY_PROPERTY_TESTS:
        rundir = _rundir(workdir, scripts[name])
        # An empty config of its own: the repository's pytest settings need the test extra.
        (rundir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        with session.chdir(rundir):
            session.run(
                str(venv / "python"), "-m", "pytest", "-c", "pytest.ini", "-p", "no:cacheprovider",
                str(scripts[name]), external=True,
            )  # fmt: skip

    # uv never reinstalls a package whose version is already installed: force it, or a reused
    # environment would run the examples against a stale build.
    if session.venv_backend == "uv":
        reinstall = ["--reinstall-package", "integration-core", "--reinstall-package", PROJECT]
        session.install(str(core_wheel), str(service_wheel), *reinstall)
    else:
        session.install(str(core_wheel), str(service_wheel))
        session.install("--force-reinstall", "--no-deps", str(core_wheel), str(service_wheel))
    for script in with_service:
        with session.chdir(_rundir(workdir, script)):
            session.run("python", str(script))


def _build_wheels(session: nox.Session, outdir: Path) -> tuple[Path, Path]:
    """Build the integration-core and integration-service wheels into *outdir*, as released.

    The service's wheel depends on ``integration-core==<core's version>`` (not on the path to
    ``core/``), so installing it proves the two wheels fit together the way an index serves them.
    """
    shutil.rmtree(outdir, ignore_errors=True)
    version = tomllib.loads((ROOT / "core" / "pyproject.toml").read_text(encoding="utf-8"))
    env = {"INTEGRATION_CORE_SPECIFIER": f"=={version['project']['version']}"}
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    for project in (ROOT / "core", ROOT):
        if uv is not None:
            build = [uv, "build", "--wheel", "--out-dir", str(outdir), str(project)]
            session.run_install(*build, env=env, external=True)
        else:
            session.install("build>=1.2")
            build = ["python", "-m", "build", "--wheel", "--outdir", str(outdir), str(project)]
            session.run_install(*build, env=env)
    core = sorted(outdir.glob("integration_core-*.whl"))
    service = sorted(outdir.glob("integration_service-*.whl"))
    if len(core) != 1 or len(service) != 1:
        session.error(
            f"expected one wheel of each distribution in {outdir}, found {core + service}"
        )
    return core[0], service[0]


def _fresh_core_only_venv(session: nox.Session, path: Path, core_wheel: Path) -> Path:
    """Create a new virtualenv at *path* holding *core_wheel*; return its bin directory."""
    shutil.rmtree(path, ignore_errors=True)
    session.run_install("python", "-m", "venv", str(path))
    bin_dir = path / ("Scripts" if sys.platform == "win32" else "bin")
    quiet = ["-m", "pip", "install", "--quiet"]
    session.run_install(str(bin_dir / "python"), *quiet, str(core_wheel), external=True)
    _assert_core_only(session, bin_dir)
    return bin_dir


def _assert_core_only(session: nox.Session, bin_dir: Path) -> None:
    """Fail unless the venv at *bin_dir* has integration-core and nothing of the service."""
    listing = session.run(
        str(bin_dir / "python"), "-m", "pip", "list", "--format=json", external=True, silent=True
    )
    if listing is None:
        return  # nox --install-only: nothing ran, nothing to check
    installed = {
        str(dist["name"]).lower(): str(dist["version"]) for dist in json.loads(str(listing))
    }
    session.log("core-only venv: " + ", ".join(f"{n} {v}" for n, v in sorted(installed.items())))
    present = [name for name in SERVICE_ONLY_DISTRIBUTIONS if name in installed]
    if present or "integration-core" not in installed:
        session.error(f"the core-only venv must hold integration-core and none of {present}")


def _rundir(workdir: Path, script: Path) -> Path:
    """Return a fresh, empty working directory for *script*.

    None may depend on the repository layout or leave a SQLite file or a key file in the tree.
    """
    rundir = workdir / script.stem
    shutil.rmtree(rundir, ignore_errors=True)
    rundir.mkdir(parents=True)
    return rundir
