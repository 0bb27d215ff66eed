"""Drain benchmark: events forwarded per second by one worker process on PostgreSQL.

Fills the outbox with N pending events, starts ``serve --role worker`` pinned to core 0 with a
sink that answers 204 pinned to core 1, and times how long the outbox takes to empty.

    python benchmarks/drain.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres

Options: ``--events`` (20000), ``--batch-size`` (FORWARD_BATCH_SIZE, 200), ``--workers``
(FORWARD_WORKERS; the service's default when omitted), ``--from-spool``: fill the spool of raw
signed deliveries instead (what the API stores), so the worker splits, routes and then
forwards each one, as deployed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmark_support import (
    Database,
    cpu_seconds,
    free_port,
    integration_for,
    py_spy,
    wait_http,
    whatsapp_body,
)

from adapters_db.engine import create_engine
from adapters_db.events import SqlEventStore
from adapters_db.inbox import SqlEventInbox
from integration_core.channels import Channel
from integration_core.events import EventRecord, EventType
from integration_core.ids import new_id
from integration_core.webhooks import InboundEvent

HERE = Path(__file__).parent


async def _fill(url: str, count: int) -> None:
    integration = await integration_for(url, "whatsapp", "100200300")
    engine = create_engine(url)
    store = SqlEventStore(engine=engine, group_commit=False)
    now = datetime.now(UTC)
    try:
        for start in range(0, count, 1000):
            events = [
                EventRecord(
                    id=new_id("evt"),
                    channel=Channel.WHATSAPP,
                    dedupe_key=f"drain:{n}",
                    type=EventType.MESSAGE_RECEIVED,
                    tenant_id=integration.tenant_id,
                    integration_id=integration.id,
                    next_attempt_at=now,
                    occurred_at=now,
                    received_at=now,
                    data={"message": {"id": f"wamid.{n}", "kind": "text", "text": "drain"}},
                )
                for n in range(start, min(start + 1000, count))
            ]
            await store.record(None, events)
    finally:
        await engine.dispose()


async def _fill_spool(url: str, count: int) -> None:
    """Spool *count* raw one-message deliveries, as ``serve --role api`` stores them."""
    await integration_for(url, "whatsapp", "100200300")
    engine = create_engine(url)
    inbox = SqlEventInbox(engine=engine, group_commit=False)
    try:
        for start in range(0, count, 1000):
            await asyncio.gather(
                *(
                    inbox.append(
                        InboundEvent(
                            id=new_id("in"),
                            channel=Channel.WHATSAPP,
                            received_at=datetime.now(UTC),
                            body=whatsapp_body("100200300", f"wamid.drain.{n}", size=2048),
                        )
                    )
                    for n in range(start, min(start + 1000, count))
                )
            )
    finally:
        await inbox.aclose()
        await engine.dispose()


async def _pending(url: str) -> int:
    engine = create_engine(url)
    try:
        waiting = (await SqlEventInbox(engine=engine, group_commit=False).spool_stats()).pending
        return waiting + (await SqlEventStore(engine=engine, group_commit=False).stats()).pending
    finally:
        await engine.dispose()


def main() -> int:
    """Run the benchmark and print events/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--workers", type=int, default=None, help="FORWARD_WORKERS")
    parser.add_argument(
        "--from-spool", action="store_true", help="start from raw deliveries: split, then forward"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="record the worker with py-spy (raw stacks) meanwhile"
    )
    args = parser.parse_args()

    database = Database.create(args.postgres_url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run((_fill_spool if args.from_spool else _fill)(database.url, args.events))
        sink_port, worker_port = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                ["taskset", "-c", "1", sys.executable, str(HERE / "sink.py"), str(sink_port)]
            )
        )
        wait_http(f"http://127.0.0.1:{sink_port}/events", method="POST")
        env = {
            **os.environ,
            "DATABASE_URL": database.url,
            "MESSAGING_SERVICE_URL": f"http://127.0.0.1:{sink_port}/events",
            "PORT": str(worker_port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "warning",
            "FORWARD_BATCH_SIZE": str(args.batch_size),
            "FORWARD_POLL_INTERVAL": "100ms",
        }
        if args.workers is not None:
            env["FORWARD_WORKERS"] = str(args.workers)
        # The worker's log goes to a file (a pipe nobody reads would block it), named on stdout.
        worker_log = Path(tempfile.mkdtemp(prefix="is-drain-")) / "worker.log"
        print(f"worker log: {worker_log}")
        started = time.monotonic()
        command = ["taskset", "-c", "0", sys.executable, "-m", "integration_service", "serve"]
        with worker_log.open("wb") as sink:
            worker = subprocess.Popen(
                [*command, "--role", "worker"], env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        procs.append(worker)
        wait_http(f"http://127.0.0.1:{worker_port}/api/v1/ready", ok_only=True)
        ready = time.monotonic()
        cpu_before = cpu_seconds(worker.pid)
        if args.profile:
            procs.append(py_spy(worker.pid, args.profile))
        left = args.events
        while left and time.monotonic() - ready < args.timeout:
            time.sleep(0.25)
            left = asyncio.run(_pending(database.url))
        elapsed = time.monotonic() - ready
        cpu = cpu_seconds(worker.pid) - cpu_before
        delivered = args.events - left
        print(f"drain benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(
            f"events={args.events} batch={args.batch_size} "
            f"FORWARD_WORKERS={env.get('FORWARD_WORKERS', 'default')}; "
            "worker on core 0, sink on core 1; "
            f"start-up {ready - started:.1f}s not counted"
        )
        print(f"delivered {delivered} in {elapsed:.1f}s: {delivered / elapsed:.0f} events/s")
        print(f"worker CPU: {cpu * 1e6 / max(delivered, 1):.0f} µs per event")
        return 0 if left == 0 else 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        database.drop()


if __name__ == "__main__":
    raise SystemExit(main())
