"""Build the Dockerfile and prove the image runs: what ``nox -s container`` does.

    python tools/container_check.py            # as root, with Debian's docker.io and debootstrap

These machines cannot pull from public image registries, so the base image (``PYTHON_IMAGE``)
is built here from Debian packages: ``debootstrap --variant=minbase`` of bookworm with python3,
pip and venv, ``EXTERNALLY-MANAGED`` removed, ``python``/``pip`` linked, and this machine's CA
bundle and pip index settings copied in, so pip inside the build reaches the package index the
way pip on this machine does. It is imported with ``docker import`` and cached twice, keyed by a
hash of everything that builds it: as a tagged image in the daemon, and as a rootfs tarball in
``CACHE_DIR`` (default ``/var/cache/integration-service``), so a warm machine skips debootstrap.

Then ``docker build --network host`` with BuildKit, through Debian's ``docker`` client: its
``DOCKER_BUILDKIT=1`` builds ``RUN --mount`` with the daemon's own builder (a newer client
without the buildx plugin cannot). The checks, each failing the run:

- ``serve`` on the default SQLite file answers ``/api/v1/health`` 200;
- the process runs as a non-root uid (read from the host's ``/proc``, not from ``docker exec``);
- ``SIGTERM`` stops it, exit code 0, within ``SHUTDOWN_TIMEOUT``;
- ``migrate`` then ``serve --role worker`` on the same volume answers ``/api/v1/ready`` 200;
- on a fresh PostgreSQL database (``TEST_POSTGRES_URL``'s server, through the host network) it
  migrates and answers health 200 with its database check ok;
- ``docker-compose.yml`` passes ``docker compose config`` (or Debian's ``docker-compose config``).

It prints the image size. A daemon is started only if none answers, and only what this run
started (containers, volume, daemon) is stopped or removed at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
# As tests_postgres: a server .ci/run makes sure of; the check makes (and drops) its own database.
POSTGRES_URL = (
    os.environ.get("TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
)
CACHE_DIR = Path(os.environ.get("CONTAINER_CACHE_DIR", "/var/cache/integration-service"))
# Debian's client (docker.io): the one whose DOCKER_BUILDKIT=1 needs no buildx plugin.
DOCKER = os.environ.get("CONTAINER_DOCKER", "/usr/bin/docker")
DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
SUITE = "bookworm"
MIRROR = os.environ.get("CONTAINER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = "python3,python3-pip,python3-venv,ca-certificates"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE = "integration-service:ci"
BASE_REPOSITORY = "integration-service-base"
SHUTDOWN_TIMEOUT = 10  # seconds, given to the container; the stop must take no longer
START_TIMEOUT = 90.0
DAEMON_TIMEOUT = 60.0
# Bump when the way the base is made changes: the cache key must change with it.
BASE_RECIPE_VERSION = "1"


class CheckFailed(Exception):
    """A check did not hold; the message says which and why."""


def say(message: str, *, stream: TextIO = sys.stdout) -> None:
    stream.write(f"container: {message}\n")
    stream.flush()


def run(
    *args: str, check: bool = True, capture: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run *args*, echoed first; raise :class:`CheckFailed` on a non-zero exit when *check*."""
    sys.stdout.write("+ " + " ".join(args) + "\n")
    sys.stdout.flush()
    done = subprocess.run(  # noqa: S603 - fixed commands of this script
        args,
        check=False,
        text=True,
        capture_output=capture,
        env=None if env is None else {**os.environ, **env},
    )
    if check and done.returncode != 0:
        detail = f"\n{done.stdout}{done.stderr}" if capture else ""
        raise CheckFailed(f"`{' '.join(args)}` exited with {done.returncode}{detail}")
    return done


def docker(*args: str, check: bool = True, capture: bool = True) -> str:
    return run(DOCKER, *args, check=check, capture=capture).stdout or ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ the daemon


def _daemon_answers() -> bool:
    return (
        subprocess.run(  # noqa: S603 - fixed command
            [DOCKER, "info"], capture_output=True, check=False
        ).returncode
        == 0
    )


@contextlib.contextmanager
def daemon() -> Iterator[None]:
    """Use the running Docker daemon, or start one for this run and stop it afterwards."""
    if not Path(DOCKER).exists():
        raise CheckFailed(
            f"{DOCKER} not found: install Debian's docker.io (apt-get install docker.io)"
        )
    if _daemon_answers():
        say("using the Docker daemon that is already running")
        yield
        return
    if os.geteuid() != 0:
        raise CheckFailed("no Docker daemon answers, and only root can start one")
    log = Path(tempfile.gettempdir()) / "integration-service-dockerd.log"
    say(f"no Docker daemon answers: starting {DOCKERD} (log: {log})")
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - the daemon binary
            [DOCKERD], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + DAEMON_TIMEOUT
        while not _daemon_answers():
            if process.poll() is not None:
                raise CheckFailed(f"dockerd exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise CheckFailed(f"dockerd did not answer within {DAEMON_TIMEOUT:.0f}s; see {log}")
            time.sleep(0.5)
        yield
    finally:
        say(f"stopping the Docker daemon this run started (pid {process.pid})")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------ the base image


def _pip_index_settings() -> dict[str, str]:
    """Return how pip on this machine reaches its index, as pip environment variables.

    Only http(s) indexes travel: a ``file://`` index is a path on this machine, not in the image.
    """
    found: dict[str, str] = {}
    for name, key in (
        ("PIP_INDEX_URL", "global.index-url"),
        ("PIP_TRUSTED_HOST", "global.trusted-host"),
    ):
        value = os.environ.get(name)
        if value is None:
            got = subprocess.run(  # noqa: S603 - pip of this interpreter
                [sys.executable, "-m", "pip", "config", "get", key],
                capture_output=True,
                text=True,
                check=False,
            )
            value = got.stdout.strip() if got.returncode == 0 else None
        if value:
            found[name] = value
    extra = os.environ.get("PIP_EXTRA_INDEX_URL") or ""
    remote = [url for url in extra.split() if url.startswith(("http://", "https://"))]
    if remote:
        found["PIP_EXTRA_INDEX_URL"] = " ".join(remote)
    return found


def _pip_conf(settings: dict[str, str]) -> str:
    lines = ["[global]", "cert = /etc/ssl/certs/ca-certificates.crt"]
    names = {
        "PIP_INDEX_URL": "index-url",
        "PIP_EXTRA_INDEX_URL": "extra-index-url",
        "PIP_TRUSTED_HOST": "trusted-host",
    }
    lines += [f"{names[key]} = {value}" for key, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


def base_key(pip_conf: str) -> str:
    """Return the hash of everything that makes the base image."""
    digest = hashlib.sha256()
    for part in (BASE_RECIPE_VERSION, SUITE, MIRROR, PACKAGES, pip_conf):
        digest.update(part.encode() + b"\0")
    digest.update(HOST_CA_BUNDLE.read_bytes())
    return digest.hexdigest()[:16]


def _debootstrap(rootfs: Path, pip_conf: str) -> None:
    if shutil.which("debootstrap") is None:
        raise CheckFailed("debootstrap not found: apt-get install debootstrap")
    # Hundreds of lines when all is well: shown only when it fails.
    run(
        "debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(rootfs), MIRROR,
        capture=True,
    )  # fmt: skip
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    for link, target in (("usr/bin/python", "python3"), ("usr/bin/pip", "pip3")):
        (rootfs / link).unlink(missing_ok=True)
        (rootfs / link).symlink_to(target)
    # This machine's bundle: it holds any CA that its way to the package index needs.
    shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
    (rootfs / "etc/pip.conf").write_text(pip_conf)
    # What an image does not need: apt lists and caches, docs.
    for junk in ("var/lib/apt/lists", "var/cache/apt/archives", "usr/share/doc", "usr/share/man"):
        path = rootfs / junk
        if path.is_dir():
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                elif child.name != "lock":
                    child.unlink()


def base_image() -> str:
    """Return the base image's tag, building it only when neither cache has it."""
    pip_conf = _pip_conf(_pip_index_settings())
    key = base_key(pip_conf)
    tag = f"{BASE_REPOSITORY}:{key}"
    if run(DOCKER, "image", "inspect", tag, check=False, capture=True).returncode == 0:
        say(f"base image {tag}: in the daemon already")
        return tag
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tarball = CACHE_DIR / f"base-{SUITE}-{key}.tar"
    if not tarball.exists():
        started = time.monotonic()
        say(f"base image {tag}: debootstrap {SUITE} (cached afterwards in {tarball})")
        with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            _debootstrap(rootfs, pip_conf)
            partial = tarball.with_suffix(".partial")
            run("tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), ".")
            partial.replace(tarball)
        say(f"debootstrap and tarball took {time.monotonic() - started:.0f}s")
        for old in CACHE_DIR.glob(f"base-{SUITE}-*.tar"):
            if old != tarball:
                old.unlink()  # an older recipe's base: never used again
    say(f"base image {tag}: docker import {tarball}")
    docker("import", "--change", 'CMD ["python3"]', str(tarball), tag)
    return tag


# ------------------------------------------------------------------------------ the checks


def build(base: str) -> None:
    started = time.monotonic()
    revision = run("git", "-C", str(ROOT), "rev-parse", "HEAD", check=False, capture=True)
    run(
        DOCKER, "build", "--network", "host",
        "--build-arg", f"PYTHON_IMAGE={base}",
        "--build-arg", f"REVISION={(revision.stdout or 'unknown').strip()}",
        "-t", IMAGE, str(ROOT),
        env={"DOCKER_BUILDKIT": "1"},
    )  # fmt: skip
    say(f"docker build took {time.monotonic() - started:.0f}s")


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own URL
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_for(container: str, url: str, status: int = 200) -> None:
    """Poll *url* until it answers *status*; fail with the container's logs if it never does."""
    deadline = time.monotonic() + START_TIMEOUT
    seen = None
    while time.monotonic() < deadline:
        seen = _get(url)
        if seen == status:
            say(f"{url} answered {status}")
            return
        state = docker("inspect", "--format", "{{.State.Running}}", container, check=False)
        if state.strip() == "false":
            break
        time.sleep(0.5)
    logs = run(DOCKER, "logs", container, check=False, capture=True)
    raise CheckFailed(f"{url} never answered {status} (last: {seen})\n{logs.stdout}{logs.stderr}")


def start(name: str, volume: str, port: int, *command: str, database_url: str | None = None) -> str:
    """Start the image detached on the host's network; *database_url* never enters argv."""
    run(
        DOCKER, "run", "--detach", "--name", name, "--network", "host",
        "--volume", f"{volume}:/app",
        "--env", f"PORT={port}", "--env", "HOST=127.0.0.1",
        "--env", f"SHUTDOWN_TIMEOUT={SHUTDOWN_TIMEOUT}s",
        # Without a value, docker takes the variable from its own environment.
        *(("--env", "DATABASE_URL") if database_url else ()),
        IMAGE, *command,
        capture=True,
        env={"DATABASE_URL": database_url} if database_url else None,
    )  # fmt: skip
    return name


def _psql(url: str, sql: str) -> None:
    """Run *sql* with psql; not echoed, since a URL may hold a password."""
    psql = shutil.which("psql")
    if psql is None:
        raise CheckFailed("psql not found: apt-get install postgresql-client")
    command = [psql, "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--dbname", url]
    done = subprocess.run(  # noqa: S603 - psql with our own statement
        [*command, "--command", sql], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise CheckFailed(f"PostgreSQL (TEST_POSTGRES_URL) refused `{sql}`: {done.stderr.strip()}")


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """Create an empty PostgreSQL database for this run; yield its URL, drop it afterwards."""
    name = f"integration_service_container_{os.getpid()}"
    url = urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
    _psql(POSTGRES_URL, f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        _psql(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check_postgres(suffix: str, volume: str, containers: list[str]) -> None:
    """The image's PostgreSQL driver works: migrate a fresh database and answer health 200."""
    with scratch_database() as url:
        port = free_port()
        name = start(f"integration-service-ci-pg-{suffix}", volume, port, database_url=url)
        containers.append(name)
        health = f"http://127.0.0.1:{port}/api/v1/health"
        wait_for(name, health)
        with urllib.request.urlopen(health, timeout=5) as answer:
            database = json.loads(answer.read())["checks"].get("database", {})
        if database.get("ok") is not True:
            raise CheckFailed(f"health's database check on PostgreSQL: {database}")
        say("on PostgreSQL: health 200, database check ok")
        check_sigterm(name)


def check_uid(container: str) -> None:
    """The main process runs as a non-root uid: read it where the kernel keeps it."""
    pid = docker("inspect", "--format", "{{.State.Pid}}", container).strip()
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    if "0" in uids:
        raise CheckFailed(f"the service runs as uid {uids} (real, effective, saved, fs)")
    say(f"the service runs as uid {uids[0]}, not root")


def check_sigterm(container: str) -> None:
    """SIGTERM stops the service cleanly, within SHUTDOWN_TIMEOUT."""
    started = time.monotonic()
    docker("kill", "--signal", "TERM", container)
    code = docker("wait", container).strip()  # returns once the container has exited
    took = time.monotonic() - started
    if code != "0":
        logs = run(DOCKER, "logs", "--tail", "30", container, check=False, capture=True)
        raise CheckFailed(f"exit code {code} after SIGTERM\n{logs.stdout}{logs.stderr}")
    if took > SHUTDOWN_TIMEOUT:
        raise CheckFailed(
            f"SIGTERM took {took:.1f}s, more than SHUTDOWN_TIMEOUT={SHUTDOWN_TIMEOUT}s"
        )
    say(f"SIGTERM: exit code 0 after {took:.1f}s (SHUTDOWN_TIMEOUT={SHUTDOWN_TIMEOUT}s)")


def check_compose() -> None:
    """docker-compose.yml is valid for Compose v2 if it is here, else Debian's docker-compose."""
    compose: Sequence[str]
    if run(DOCKER, "compose", "version", check=False, capture=True).returncode == 0:
        compose = (DOCKER, "compose")
    elif shutil.which("docker-compose"):
        compose = ("docker-compose",)
    else:
        raise CheckFailed(
            "neither `docker compose` nor docker-compose: apt-get install docker-compose"
        )
    run(*compose, "--file", str(ROOT / "docker-compose.yml"), "config", "--quiet")
    say(f"{' '.join(compose)} config: docker-compose.yml is valid")


def image_size() -> None:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", IMAGE).strip())
    say(f"image {IMAGE}: {size / 1e6:.0f} MB ({size} bytes)")


def checks() -> None:
    suffix = f"{os.getpid()}"
    volume = f"integration-service-ci-{suffix}"
    containers: list[str] = []
    docker("volume", "create", volume)
    try:
        port = free_port()
        api = start(f"integration-service-ci-api-{suffix}", volume, port)
        containers.append(api)
        wait_for(api, f"http://127.0.0.1:{port}/api/v1/health")
        check_uid(api)
        check_sigterm(api)
        # The schema is on the volume now; `migrate` must find it current, then a worker starts.
        out = docker("run", "--rm", "--volume", f"{volume}:/app", IMAGE, "migrate")
        say(f"migrate: {out.strip().splitlines()[-1] if out.strip() else '(no output)'}")
        port = free_port()
        worker = start(
            f"integration-service-ci-worker-{suffix}", volume, port, "serve", "--role", "worker"
        )
        containers.append(worker)
        wait_for(worker, f"http://127.0.0.1:{port}/api/v1/ready")
        check_sigterm(worker)
        check_postgres(suffix, volume, containers)
    finally:
        for name in containers:
            docker("rm", "--force", name, check=False)
        docker("volume", "rm", "--force", volume, check=False)


def main() -> int:
    started = time.monotonic()
    try:
        check_compose()
        with daemon():
            base = base_image()
            build(base)
            image_size()
            checks()
    except CheckFailed as exc:
        say(f"FAILED: {exc}", stream=sys.stderr)
        return 1
    say(f"every check passed in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
