"""Ingest benchmark: the real app on PostgreSQL against a bare handler, alternating, same run.

The service (``serve --role api``) and the bare handler (``bare_handler.py``) each run pinned to
core 0, while a ``serve --role worker`` process forwards what the service stores to ``sink.py``
on core 1 (``--no-worker`` leaves them out); wrk runs pinned to core 1 with 64 keep-alive
connections and posts signed WhatsApp deliveries, every one with a new message id. Rounds
alternate bare/service so drift on the machine hits both alike. Reports requests/s, p50 and
p99 of each and the ratio, and the server's CPU time per request and how busy its core was: on
a shared machine the CPU figure is the steadier one. A server well under 100 % busy is waiting:
"ready but waiting for a CPU" (from Linux's schedstat) is the part of that time it could have
run but its core was taken, by PostgreSQL's backends say; the rest it had nothing to do.

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
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
from benchmark_support import (
    Database,
    cpu_seconds,
    forged_whatsapp_lines,
    free_port,
    integration_for,
    py_spy,
    runqueue_seconds,
    signed_whatsapp_lines,
    wait_http,
)

HERE = Path(__file__).parent
LOGS = Path(tempfile.mkdtemp(prefix="is-bench-logs-"))
PATH = "/api/v1/integrations/webhooks/whatsapp"
PHONE_NUMBER_ID = "100200300"


def _start(cmd: list[str], env: dict[str, str], core: int) -> subprocess.Popen[bytes]:
    # Logs go to a file: a pipe nobody reads blocks the server once its buffer fills.
    log = LOGS / f"{Path(cmd[-1]).name.replace('.py', '')}-{len(list(LOGS.iterdir()))}.log"
    with log.open("wb") as sink:
        return subprocess.Popen(
            ["taskset", "-c", str(core), *cmd], env=env, stdout=sink, stderr=subprocess.STDOUT
        )


def _postgres_cpu_seconds() -> float:
    """Return the CPU time every PostgreSQL process on this machine has used so far."""
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "postgres":
            try:
                times = proc.cpu_times()
            except psutil.Error:  # a backend that ended meanwhile
                continue
            total += times.user + times.system
    return total


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# wrk shares core 1 with the worker, the sink and PostgreSQL. Starved, it counts its own wait
# for the CPU as the server's latency (p99 300-400 ms in the later rounds, 50 ms with this, on
# 2026-12-07); ahead of them, it measures the servers. Raising a priority needs root.
_AHEAD = ["nice", "-n", "-10"] if os.geteuid() == 0 else []


def _wrk(url: str, payloads: Path, *, duration: int, connections: int) -> dict[str, float]:
    threads = 2
    wrk_before = _children_cpu_seconds()
    out = subprocess.run(
        [
            *_AHEAD,
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
    result["wrk_cpu"] = _children_cpu_seconds() - wrk_before
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def main() -> int:  # noqa: PLR0915 - one straight script: start, load, drain, report
    """Run the benchmark and print a table; exit 1 if any request failed or anything was lost."""
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
    parser.add_argument("--body-bytes", type=int, default=2048, help="size of each delivery")
    parser.add_argument(
        "--mode",
        choices=("api", "all"),
        default="api",
        help="api: `serve --role api` on core 0, a `--role worker` forwarding on core 1; "
        "all: plain `serve` (API and workers in one process) on core 0",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="(--mode api) do not forward meanwhile: no worker process, nothing drained",
    )
    parser.add_argument(
        "--no-forged", action="store_true", help="skip the round of forged 1 MiB deliveries"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="record `serve` with py-spy (raw stacks) during the last round of the service",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=120.0, help="seconds to wait for the backlog"
    )
    args = parser.parse_args()

    secret = secrets.token_hex(16)
    work = Path(tempfile.mkdtemp(prefix="is-bench-"))
    database = Database.create(args.postgres_url)
    procs: list[subprocess.Popen[bytes]] = []
    worker: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(integration_for(database.url, "whatsapp", PHONE_NUMBER_ID))
        bare_port, app_port, sink_port, worker_port = (free_port() for _ in range(4))
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
        forwarding = args.mode == "all" or not args.no_worker
        if forwarding:
            procs.append(_start([sys.executable, str(HERE / "sink.py"), str(sink_port)], env, 1))
        sink_url = f"http://127.0.0.1:{sink_port}/events"
        role = ["--role", "api"] if args.mode == "api" else []
        app_env = {**env, "MESSAGING_SERVICE_URL": sink_url} if args.mode == "all" else env
        app = _start([sys.executable, "-m", "integration_service", "serve", *role], app_env, 0)
        bare = _start(
            [sys.executable, str(HERE / "bare_handler.py"), str(bare_port), secret], env, 0
        )
        procs += [app, bare]
        wait_http(f"http://127.0.0.1:{app_port}/api/v1/ready", ok_only=True)
        wait_http(f"http://127.0.0.1:{bare_port}{PATH}", method="POST")
        if args.mode == "api" and not args.no_worker:
            # As deployed: what the API spools, a worker process splits and forwards meanwhile.
            worker_env = {**env, "PORT": str(worker_port), "MESSAGING_SERVICE_URL": sink_url}
            worker = _start(
                [sys.executable, "-m", "integration_service", "serve", "--role", "worker"],
                worker_env,
                1,
            )
            procs.append(worker)
            wait_http(f"http://127.0.0.1:{worker_port}/api/v1/ready", ok_only=True)

        rows: dict[str, list[dict[str, float]]] = {"bare": [], "ingest": []}
        servers = {"bare": bare.pid, "ingest": app.pid}
        # What the other processes spend from the first round to the last forward: on two
        # cores, the worker shares its core with wrk, the sink and (mostly) PostgreSQL.
        others = {"worker": worker, "sink": procs[0] if forwarding else None}
        others_before = {k: cpu_seconds(v.pid) for k, v in others.items() if v is not None}
        postgres_before = _postgres_cpu_seconds()
        started = time.monotonic()
        for round_no in range(args.rounds):
            for name, port in (("bare", bare_port), ("ingest", app_port)):
                payloads = work / f"{name}-{round_no}.tsv"
                payloads.write_text(
                    "".join(
                        signed_whatsapp_lines(
                            secret,
                            PHONE_NUMBER_ID,
                            f"r{round_no}{name}",
                            args.per_round,
                            size=args.body_bytes,
                        )
                    )
                )
                last = round_no == args.rounds - 1
                profile = args.profile if name == "ingest" and last else None
                rows[name].append(_measure(servers[name], port, payloads, args, profile))
        load_ended = time.monotonic()
        acknowledged = sum(int(r["requests"] - r["non_2xx"]) for r in rows["ingest"])
        drained = (
            _drain(database.url, acknowledged, args.drain_timeout, load_ended)
            if forwarding
            else None
        )
        spent = {
            k: cpu_seconds(v.pid) - others_before[k] for k, v in others.items() if v is not None
        }
        spent["PostgreSQL"] = _postgres_cpu_seconds() - postgres_before
        spent["wrk"] = sum(r["wrk_cpu"] for rs in rows.values() for r in rs)
        spent["service"] = sum(r["cpu_seconds"] for r in rows["ingest"])
        spent["bare handler"] = sum(r["cpu_seconds"] for r in rows["bare"])
        wall = time.monotonic() - started

        forged: dict[str, dict[str, float]] = {}
        statements = None
        if not args.no_forged:
            payloads = work / "forged.tsv"
            payloads.write_text("".join(forged_whatsapp_lines(8)))
            if worker is not None:
                worker.terminate()  # nothing else may query meanwhile
                worker.wait(timeout=30)
            before = _statements(database.url)
            forged["bare"] = _measure(servers["bare"], bare_port, payloads, args)
            forged["ingest"] = _measure(servers["ingest"], app_port, payloads, args)
            statements = _statements(database.url) - before

        failures = int(sum(r["non_2xx"] + r["socket_errors"] for rs in rows.values() for r in rs))
        lost = drained is not None and drained["forwarded"] < acknowledged
        _report(rows, args, failures, acknowledged, drained)
        _report_spent(spent, acknowledged, wall)
        if forged:
            _report_forged(forged, statements)
        refused_ok = all(r["non_2xx"] == r["requests"] for r in forged.values())
        return 1 if failures or lost or not refused_ok else 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        database.drop()


def _measure(
    server: int,
    port: int,
    payloads: Path,
    args: argparse.Namespace,
    profile: str | None = None,
) -> dict[str, float]:
    before = cpu_seconds(server)
    waited = runqueue_seconds(server)
    spy = py_spy(server, profile, args.duration) if profile else None
    result = _wrk(
        f"http://127.0.0.1:{port}{PATH}",
        payloads,
        duration=args.duration,
        connections=args.connections,
    )
    cpu = cpu_seconds(server) - before
    waited = runqueue_seconds(server) - waited
    if spy is not None:
        spy.wait(timeout=args.duration + 30)
    result["cpu_seconds"] = cpu
    result["cpu_us_per_request"] = cpu * 1e6 / max(result["requests"], 1)
    result["cpu_busy"] = cpu / (result["duration_us"] / 1e6)
    result["cpu_denied"] = waited / (result["duration_us"] / 1e6)
    return result


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def _statements(url: str) -> int:
    """Return how many scans and row writes the benchmark database's tables have seen.

    Any statement a request makes reads (a scan) or writes (a row) a table; autovacuum and
    this query itself do neither, so a difference of 0 means no request touched the database.
    """
    # An idle backend publishes its counters up to 10 s after its last statement
    # (PGSTAT_IDLE_INTERVAL): wait that out, so earlier work is not counted in this window.
    time.sleep(11)
    return _count(
        url,
        "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0) + n_tup_ins"
        " + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables",
    )


def _drain(url: str, acknowledged: int, timeout: float, since: float) -> dict[str, float]:
    """Wait until every acknowledged delivery was split and forwarded; say how long it took."""
    deadline = time.monotonic() + timeout
    forwarded = 0
    while time.monotonic() < deadline:
        waiting = _count(url, "SELECT count(*) FROM inbound_events WHERE state <> 'processed'")
        forwarded = _count(url, "SELECT count(*) FROM events WHERE status = 'delivered'")
        if waiting == 0 and forwarded >= acknowledged:
            break
        time.sleep(0.25)
    return {"forwarded": forwarded, "seconds": time.monotonic() - since}


def _report(
    rows: dict[str, list[dict[str, float]]],
    args: argparse.Namespace,
    failures: int,
    acknowledged: int,
    drained: dict[str, float] | None,
) -> None:
    def best(name: str, key: str) -> float:
        values = sorted(r[key] for r in rows[name])
        return values[len(values) // 2]  # the median round

    print(f"ingest benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {socket.gethostname()}")
    where = (
        "plain `serve` (API and workers) on core 0"
        if args.mode == "all"
        else "`serve --role api` on core 0"
        + ("" if args.no_worker else ", a `--role worker` splitting and forwarding on core 1")
    )
    print(
        f"rounds={args.rounds} duration={args.duration}s connections={args.connections} "
        f"body={args.body_bytes} B; {where}; wrk and the sink on core 1; medians of the rounds"
    )
    print(
        f"{'':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} {'busy':>6}"
        f" {'no CPU':>7}"
    )
    for name in ("bare", "ingest"):
        print(
            f"{name:8} {best(name, 'rps'):>10.0f} {best(name, 'p50_us') / 1000:>8.2f} "
            f"{best(name, 'p99_us') / 1000:>8.2f} {best(name, 'cpu_us_per_request'):>11.0f} "
            f"{best(name, 'cpu_busy'):>6.0%} {best(name, 'cpu_denied'):>7.0%}"
        )
    print(f"ratio ingest/bare: {best('ingest', 'rps') / best('bare', 'rps'):.2f}")
    print(f"failed requests: {failures}")
    if drained is not None:
        print(
            f"acknowledged {acknowledged}, forwarded {drained['forwarded']:.0f}; the last "
            f"forwarded {drained['seconds']:.1f} s after the load ended"
        )
    for name, rs in rows.items():
        for i, r in enumerate(rs):
            print(
                f"  {name} round {i}: {r['rps']:.0f} req/s p99 {r['p99_us'] / 1000:.2f} ms, "
                f"{r['cpu_us_per_request']:.0f} µs CPU/request, server {r['cpu_busy']:.0%} busy"
                f" and {r['cpu_denied']:.0%} ready but waiting for a CPU"
            )


def _report_spent(spent: dict[str, float], acknowledged: int, wall: float) -> None:
    """Print where the machine's CPU went, per acknowledged delivery, over the *wall* seconds
    of the run (the worker's share is its CPU per delivery)."""
    parts = ", ".join(
        f"{name} {seconds * 1e6 / max(acknowledged, 1):.0f}" for name, seconds in spent.items()
    )
    total = sum(spent.values())
    print(
        f"CPU per acknowledged delivery, first round to last forward ({wall:.0f} s, both "
        f"cores {total / (2 * wall):.0%} busy; wrk and the bare handler: their rounds too): "
        f"{parts} µs"
    )


def _report_forged(forged: dict[str, dict[str, float]], statements: int | None) -> None:
    print("forged: unsigned ~0.9 MiB deliveries naming 6,500 phone number ids each")
    for name, r in forged.items():
        print(
            f"  {name:8} {r['rps']:>8.0f} refused/s ({r['non_2xx']:.0f} of {r['requests']:.0f} "
            f"refused), {r['cpu_us_per_request']:.0f} µs CPU/request"
        )
    print(f"  ratio ingest/bare: {forged['ingest']['rps'] / forged['bare']['rps']:.2f}")
    print(f"  database statements (table scans and row writes) during them: {statements}")


if __name__ == "__main__":
    raise SystemExit(main())
