"""Shared pieces of the benchmarks: a throwaway database, signed payloads, waiting for servers,
and measuring them (CPU time, py-spy)."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import attrs
import psutil
import psycopg

from adapters_db.engine import create_engine
from adapters_db.integrations import SqlIntegrationStore
from adapters_db.migrate import migrate
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import Secret
from integration_core.ids import TenantId, new_id
from integration_core.signatures import meta


@attrs.frozen
class Database:
    """A PostgreSQL database made for one benchmark run and dropped after it."""

    admin_url: str
    name: str

    @classmethod
    def create(cls, admin_url: str) -> Database:
        """Create an empty database next to *admin_url*'s."""
        name = f"is_bench_{secrets.token_hex(4)}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return cls(admin_url, name)

    @property
    def url(self) -> str:
        """Return the URL of the benchmark database."""
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    def drop(self) -> None:
        """Drop the database, disconnecting whoever is left."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


async def integration_for(url: str, channel: str, external_id: str) -> Integration:
    """Migrate the database at *url* and connect one integration to route the deliveries."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        now = datetime.now(UTC)
        integration = Integration(
            id=new_id("int"),
            tenant_id=TenantId("bench"),
            channel=Channel(channel),
            status=IntegrationStatus.ACTIVE,
            external_id=external_id,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
        )
        await SqlIntegrationStore(engine=engine).add(integration)
        return integration
    finally:
        await engine.dispose()


def whatsapp_body(phone_number_id: str, wamid: str, *, size: int = 0) -> bytes:
    """Return a one-message WhatsApp delivery, compact as Meta sends it, its text padded so the
    body is about *size* bytes (0: no padding)."""
    pad = " lorem" * max(0, (size - 410) // 6)
    document = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "bench-waba",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550000000",
                                "phone_number_id": phone_number_id,
                            },
                            "contacts": [{"profile": {"name": "Bench"}, "wa_id": "5491100000000"}],
                            "messages": [
                                {
                                    "from": "5491100000000",
                                    "id": wamid,
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": "benchmark message" + pad},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signed_whatsapp_lines(
    secret: str, phone_number_id: str, prefix: str, count: int, *, size: int = 0
) -> Iterator[str]:
    """Yield ``signature<TAB>body`` lines with distinct message ids, for ``replay.lua``."""
    key = (Secret(secret),)
    for n in range(count):
        body = whatsapp_body(phone_number_id, f"wamid.{prefix}.{n}", size=size)
        yield f"{meta.sign(key[0], body)}\t{body.decode()}\n"


def forged_whatsapp_lines(count: int, *, accounts: int = 6_500) -> Iterator[str]:
    """Yield ``signature<TAB>body`` lines of unsigned ~1 MiB deliveries naming *accounts*
    phone number ids each (a forged signature): what an attacker sends to make a receiver look
    up every account before refusing."""
    for n in range(count):
        changes = [
            {
                "field": "messages",
                "value": {
                    "metadata": {"phone_number_id": f"{n}{i:09d}"},
                    "messages": [{"id": f"wamid.forged.{n}.{i}", "type": "text", "from": "1"}],
                },
            }
            for i in range(accounts)
        ]
        document = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "x", "changes": changes}],
        }
        body = json.dumps(document, separators=(",", ":"))
        yield f"sha256={'0' * 64}\t{body}\n"


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(
    url: str, *, method: str = "GET", ok_only: bool = False, timeout: float = 60.0
) -> None:
    """Wait until *url* answers HTTP (with *ok_only*, a 2xx)."""
    deadline = time.monotonic() + timeout
    data = b"{}" if method == "POST" else None
    while True:
        try:
            request = urllib.request.Request(url, method=method, data=data)  # noqa: S310 - local
            with urllib.request.urlopen(request, timeout=2):  # noqa: S310 - a local URL
                return
        except urllib.error.HTTPError:
            if not ok_only:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:g}s")
        time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """Return the CPU time process *pid* and its children have used so far (user + system)."""
    process = psutil.Process(pid)
    total = 0.0
    for proc in (process, *process.children(recursive=True)):
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def runqueue_seconds(pid: int) -> float:
    """Return how long process *pid*'s threads have waited, runnable, for a CPU (Linux's
    ``/proc/PID/task/*/schedstat``; NaN where the kernel does not keep it). A server well under
    100 % busy is either idle (waiting for its database, say) or ready and denied its core by
    other processes: this tells the two apart."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return total / 1e9


def py_spy(pid: int, output: str, seconds: int = 10) -> subprocess.Popen[bytes]:
    """Record *pid*'s stacks for *seconds* (py-spy from PyPI, beside this Python; needs root)."""
    binary = str(Path(sys.executable).with_name("py-spy"))
    flags = ["--duration", str(seconds), "--rate", "250", "--format", "raw", "--nonblocking"]
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), *flags, "--output", output],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
