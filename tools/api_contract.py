"""Run schemathesis against a real ``integration-service serve``: docs/openapi.yaml must be exact.

    python tools/api_contract.py [schemathesis run options]

Starts the fake platforms of ``tests/fakes`` (Meta with its Instagram graph, Telegram, Tawk.to,
Mercado Pago) on 127.0.0.1, a ``serve`` subprocess on a fresh SQLite file wired to them through
the documented ``*_BASE_URL`` variables, mints a token with every scope through the real
``integration-service token`` command, then runs ``schemathesis run docs/openapi.yaml`` with
``tools/schemathesis.toml`` (every check, a fixed seed, a bounded number of examples). The
token reaches schemathesis through the environment, never argv. Then it proves the check can
fail: a copy of the document with one planted looseness must be reported. Exits non-zero if
schemathesis finds anything or misses the planted looseness; the service's output is printed
when it fails to start or anything fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/fakes is imported as the package tests.fakes

from tests.fakes.background import BackgroundLoop  # noqa: E402 - needs the path above
from tests.fakes.fake_mercadopago import OURS, FakeMercadoPago  # noqa: E402
from tests.fakes.fake_meta import APP_ID, APP_SECRET, FakeMeta  # noqa: E402
from tests.fakes.fake_tawkto import FakeTawkTo  # noqa: E402
from tests.fakes.fake_telegram import FakeTelegram  # noqa: E402

SCHEMA = ROOT / "docs" / "openapi.yaml"
CONFIG = ROOT / "tools" / "schemathesis.toml"
TENANT = "tenant-contract"
# Seeded before the run: the Tawk.to routes then have a property to report on (the fuzzer's own
# setups add more, and a tenant with several must name one).
PROPERTY = "prop-contract"
SCOPES = (
    "integrations:read integrations:write payments:read payments:write events:read events:write"
)
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _console_script() -> str:
    """Return the ``integration-service`` of this interpreter's environment."""
    beside = Path(sys.executable).with_name("integration-service")
    found = str(beside) if beside.exists() else shutil.which("integration-service")
    if found is None:
        sys.exit("api_contract: integration-service is not installed in this environment")
    return found


@contextmanager
def _fake_platforms() -> Iterator[dict[str, str]]:
    """Serve every fake platform from one background loop; yield the variables naming them."""
    loop = BackgroundLoop()
    meta, telegram, tawkto = FakeMeta(), FakeTelegram(), FakeTawkTo()
    mercadopago = web.AppRunner(FakeMercadoPago().app(), access_log=None)
    mp_port = _free_port()

    async def start() -> None:
        for fake in (meta, telegram, tawkto):
            await fake.start()
        await mercadopago.setup()
        await web.TCPSite(mercadopago, "127.0.0.1", mp_port).start()

    async def stop() -> None:
        for fake in (meta, telegram, tawkto):
            await fake.close()
        await mercadopago.cleanup()

    loop.run(start())
    try:
        yield {
            "META_GRAPH_BASE_URL": meta.graph_url,
            "META_GRAPH_VERSION": meta.version,
            "INSTAGRAM_GRAPH_BASE_URL": meta.instagram_url,
            "META_APP_ID": APP_ID,
            "WHATSAPP_WEBHOOK_SECRET": APP_SECRET,
            "MESSENGER_WEBHOOK_SECRET": APP_SECRET,
            "INSTAGRAM_WEBHOOK_SECRET": APP_SECRET,
            "TELEGRAM_API_BASE_URL": telegram.url,
            "TAWKTO_BASE_URL": tawkto.api_url,
            "MP_API_BASE_URL": f"http://127.0.0.1:{mp_port}",
            "MP_ACCESS_TOKEN": OURS,
        }
    finally:
        loop.run(stop())
        loop.stop()


def _service_env(workdir: Path, port: int, platforms: dict[str, str]) -> dict[str, str]:
    """Return a clean environment: only what the service needs, nothing from the caller's shell."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # Honoured so the check can run against another source tree than the installed one.
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        "HOME": str(workdir),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{workdir / 'contract.sqlite'}",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": secrets.token_hex(32),
        "TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "TAWKTO_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "MP_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "MP_ENVIRONMENT": "sandbox",
        # Every request comes from 127.0.0.1 and one tenant: the limits have tests of their own.
        **{
            f"RATE_LIMIT{kind}_{part}": "1000000"
            for kind in ("", "_TENANT", "_WEBHOOK")
            for part in ("RPS", "BURST")
        },
        "LOG_LEVEL": "WARNING",
        **platforms,
    }


def _wait_for_health(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    url = f"http://127.0.0.1:{port}/api/v1/health"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return True
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.3)
    return False


def _mint_token(script: str, env: dict[str, str]) -> str:
    minted = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [script, "token", "--tenant", TENANT, "--scope", SCOPES, "--expires", "2h"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if minted.returncode != 0:
        sys.exit(f"api_contract: `integration-service token` failed:\n{minted.stderr}")
    return minted.stdout.strip()


def _seed(port: int, token: str) -> None:
    """Connect the tenant's Tawk.to property (no API key: nothing to check with Tawk.to)."""
    body = json.dumps({"property_id": PROPERTY, "webhook_secret": secrets.token_urlsafe(24)})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/integrations/tawkto/setup",
        data=body.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own URL
        if answer.status != 201:
            sys.exit(f"api_contract: seeding the Tawk.to property answered {answer.status}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _schemathesis(schema: Path, url: str, argv: list[str], env: dict[str, str]) -> int:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG),
        "run", str(schema), "--url", url, *argv,
    ]  # fmt: skip
    _say("api_contract: " + " ".join(command))
    return subprocess.run(command, env=env, cwd=ROOT, check=False).returncode  # noqa: S603


def _planted_looseness_is_caught(workdir: Path, url: str, env: dict[str, str]) -> int:
    """Prove the check can fail: a copy of the document that lets the test message be empty.

    The service refuses an empty ``to`` (400), so schemathesis must report the document as
    looser than the API; if it passes, the check is blind and the run fails.
    """
    document = yaml.safe_load(SCHEMA.read_text())
    operation = document["paths"]["/api/v1/integrations/{id}/test-message"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    body["properties"]["to"].pop("minLength")
    loosened = workdir / "openapi-loosened.yaml"
    loosened.write_text(yaml.safe_dump(document, sort_keys=False))
    _say("api_contract: self-test: a planted looseness (test-message `to` may be empty)")
    argv = ["--checks", "all", "--include-operation-id", "sendTestMessage", "--phases", "coverage"]
    if _schemathesis(loosened, url, argv, env) == 0:
        _say("api_contract: FAILED: schemathesis did not notice the planted looseness")
        return 1
    _say("api_contract: the planted looseness was caught, as it must be")
    return 0


def main(argv: list[str]) -> int:
    """Run the contract check; return schemathesis' exit code."""
    script = _console_script()
    with tempfile.TemporaryDirectory(prefix="api-contract-") as tmp, _fake_platforms() as fakes:
        workdir = Path(tmp)
        port = _free_port()
        env = _service_env(workdir, port, fakes)
        log = workdir / "service.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - our own console script
                [script, "serve"], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            if not _wait_for_health(process, port):
                _say(log.read_text(errors="replace"))
                _say("api_contract: the service never answered health 200")
                return 1
            token = _mint_token(script, env)
            _seed(port, token)
            run_env = {
                **os.environ,
                "API_CONTRACT_TOKEN": token,
                "API_CONTRACT_TENANT": TENANT,
                "API_CONTRACT_PROPERTY": PROPERTY,
                "API_CONTRACT_URL": f"http://127.0.0.1:{port}",
            }
            url = f"http://127.0.0.1:{port}"
            code = _schemathesis(SCHEMA, url, argv, run_env)
            if code == 0:
                code = _planted_looseness_is_caught(workdir, url, run_env)
        finally:
            _stop(process)
        if code != 0:
            _say("---- the service's output ----\n" + log.read_text(errors="replace")[-20000:])
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
