"""Ingest benchmark: the real app on PostgreSQL against a bare handler, alternating, same run.

The service (``serve --role api``) and the bare handler (``bare_handler.py``) each run pinned to
core 0, while a ``serve --role worker`` process forwards what the service stores to ``sink.py``
on core 1 (``--no-worker`` leaves them out); wrk runs pinned to core 1 with 64 keep-alive
connections and posts signed WhatsApp deliveries, every one with a new message id. Rounds
alternate bare/service so drift on the machine hits both alike. Reports requests/s, p50 and
p99 of each and the ratio, and the server's CPU time per request and how busy its core was: on
a shared machine the CPU figure is the steadier one, and a server well under 100 % busy is
waiting (on the database), not computing.

Run from the repository root (needs ``wrk`` and ``taskset``, and PostgreSQL):

    python benchmarks/ingest.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres

Options: ``--duration`` seconds per round (10), ``--rounds`` (3), ``--connections`` (64),
``--no-worker``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psutil
from benchmark_support import (
    Database,
    free_port,
    integration_for,
    signed_whatsapp_lines,
    wait_http,
)

HERE = Path(__file__).parent
PATH = "/api/v1/integrations/webhooks/whatsapp"
PHONE_NUMBER_ID = "100200300"


def _start(cmd: list[str], env: dict[str, str], core: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["taskset", "-c", str(core), *cmd],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _cpu_seconds(process: psutil.Process) -> float:
    """Return the CPU time *process* and its children have used so far (user + system)."""
    total = 0.0
    for proc in (process, *process.children(recursive=True)):
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def _wrk(url: str, payloads: Path, *, duration: int, connections: int) -> dict[str, float]:
    threads = 2
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / "replay.lua"),
            url,
            "--",
            str(payloads),
            str(threads),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("{"))
    result: dict[str, float] = json.loads(line)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def main() -> int:
    """Run the benchmark and print a table; exit 1 if any request failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--per-round", type=int, default=120_000, help="distinct deliveries")
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="do not forward meanwhile (by default a worker process and a sink run on core 1)",
    )
    args = parser.parse_args()

    secret = secrets.token_hex(16)
    work = Path(tempfile.mkdtemp(prefix="is-bench-"))
    database = Database.create(args.postgres_url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(integration_for(database.url, "whatsapp", PHONE_NUMBER_ID))
        bare_port, app_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database.url,
            "WHATSAPP_WEBHOOK_SECRET": secret,
            "PORT": str(app_port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "warning",
            "RATE_LIMIT_RPS": "1000000",
            "RATE_LIMIT_BURST": "1000000",
            "RATE_LIMIT_WEBHOOK_RPS": "1000000",
            "RATE_LIMIT_WEBHOOK_BURST": "1000000",
        }
        env.pop("MESSAGING_SERVICE_URL", None)
        procs.append(
            _start([sys.executable, "-m", "integration_service", "serve", "--role", "api"], env, 0)
        )
        procs.append(
            _start([sys.executable, str(HERE / "bare_handler.py"), str(bare_port), secret], env, 0)
        )
        wait_http(f"http://127.0.0.1:{app_port}/api/v1/ready", ok_only=True)
        wait_http(f"http://127.0.0.1:{bare_port}{PATH}", method="POST")
        if not args.no_worker:
            # As deployed: what the API stores, a worker process forwards meanwhile.
            sink_port, worker_port = free_port(), free_port()
            procs.append(_start([sys.executable, str(HERE / "sink.py"), str(sink_port)], env, 1))
            worker_env = {
                **env,
                "PORT": str(worker_port),
                "MESSAGING_SERVICE_URL": f"http://127.0.0.1:{sink_port}/events",
            }
            procs.append(
                _start(
                    [sys.executable, "-m", "integration_service", "serve", "--role", "worker"],
                    worker_env,
                    1,
                )
            )
            wait_http(f"http://127.0.0.1:{worker_port}/api/v1/ready", ok_only=True)

        rows: dict[str, list[dict[str, float]]] = {"bare": [], "ingest": []}
        servers = {"bare": psutil.Process(procs[1].pid), "ingest": psutil.Process(procs[0].pid)}
        for round_no in range(args.rounds):
            for name, port in (("bare", bare_port), ("ingest", app_port)):
                payloads = work / f"{name}-{round_no}.tsv"
                payloads.write_text(
                    "".join(
                        signed_whatsapp_lines(
                            secret, PHONE_NUMBER_ID, f"r{round_no}{name}", args.per_round
                        )
                    )
                )
                before = _cpu_seconds(servers[name])
                result = _wrk(
                    f"http://127.0.0.1:{port}{PATH}",
                    payloads,
                    duration=args.duration,
                    connections=args.connections,
                )
                cpu = _cpu_seconds(servers[name]) - before
                result["cpu_us_per_request"] = cpu * 1e6 / max(result["requests"], 1)
                result["cpu_busy"] = cpu / (result["duration_us"] / 1e6)
                rows[name].append(result)
        failures = sum(r["non_2xx"] + r["socket_errors"] for rs in rows.values() for r in rs)
        _report(rows, args, failures)
        return 1 if failures else 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        database.drop()


def _report(
    rows: dict[str, list[dict[str, float]]], args: argparse.Namespace, failures: int
) -> None:
    def best(name: str, key: str) -> float:
        values = sorted(r[key] for r in rows[name])
        return values[len(values) // 2]  # the median round

    print(f"ingest benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {socket.gethostname()}")
    print(
        f"rounds={args.rounds} duration={args.duration}s connections={args.connections} "
        "(server on core 0, wrk on core 1; medians of the rounds; "
        f"{'no forwarding' if args.no_worker else 'a worker forwarding on core 1'})"
    )
    print(f"{'':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} {'busy':>6}")
    for name in ("bare", "ingest"):
        print(
            f"{name:8} {best(name, 'rps'):>10.0f} {best(name, 'p50_us') / 1000:>8.2f} "
            f"{best(name, 'p99_us') / 1000:>8.2f} {best(name, 'cpu_us_per_request'):>11.0f} "
            f"{best(name, 'cpu_busy'):>6.0%}"
        )
    print(f"ratio ingest/bare: {best('ingest', 'rps') / best('bare', 'rps'):.2f}")
    print(f"failed requests: {failures}")
    for name, rs in rows.items():
        for i, r in enumerate(rs):
            print(
                f"  {name} round {i}: {r['rps']:.0f} req/s p99 {r['p99_us'] / 1000:.2f} ms, "
                f"{r['cpu_us_per_request']:.0f} µs CPU/request, server {r['cpu_busy']:.0%} busy"
            )


if __name__ == "__main__":
    raise SystemExit(main())
