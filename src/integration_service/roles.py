"""What one ``serve`` process runs: the HTTP side, the background workers, or both.

``--role api`` takes webhooks (verifies and spools them) and serves the management API;
``--role worker`` splits spooled deliveries into events, forwards events and rotates tokens
(and serves only health and metrics); ``all``, the default, does both in one process.
Any number of each may share one database: claims are leased (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so two workers never hold the same event, and intake deduplicates in the
database, so two api processes never store one twice.
"""

from __future__ import annotations

import asyncio
import enum

from adapters_observability.logging import get_logger
from adapters_observability.payment_metrics import NotificationMetrics
from integration_core.use_cases.forwarding import ForwardEvents
from integration_service.container import Container, engine_of, resolve
from integration_service.housekeeping import purge_idempotency_records
from integration_service.migration import wait_for_schema
from integration_service.payment_worker import NotificationWorker
from integration_service.settings import Settings
from integration_service.token_rotation import TokenRotationScheduler
from integration_service.workers import (
    ForwardingWorker,
    SplittingWorker,
    Workers,
    refresh_outbox_gauges,
)

_LOGGER = "integration_service.roles"


class Role(enum.StrEnum):
    """The part of the service one process plays."""

    API = "api"
    WORKER = "worker"
    ALL = "all"

    @property
    def serves_api(self) -> bool:
        """Tell whether this process takes webhooks and serves the management API."""
        return self is not Role.WORKER

    @property
    def runs_workers(self) -> bool:
        """Tell whether this process forwards events and rotates tokens."""
        return self is not Role.API


async def start_workers(container: Container, settings: Settings, workers: Workers) -> None:
    """Start this process's background work on *workers*: it begins once the schema is ready.

    Without ``MESSAGING_SERVICE_URL`` nothing is forwarded (events stay pending, as the
    start-up warning says), but the outbox gauges still run, so the backlog is visible.
    """
    log = get_logger(_LOGGER)
    messaging = settings.messaging
    engine = await engine_of(container)
    probe = await resolve(container.migrations)
    events = await resolve(container.events)
    clock = await resolve(container.clock)
    metrics = await resolve(container.forward_metrics)
    wakeup = await resolve(container.wakeup)
    integrations = await resolve(container.integrations)
    idempotency = await resolve(container.idempotency)
    rotation = TokenRotationScheduler(
        rotate=await resolve(container.rotate_tokens),
        integrations=integrations,
        metrics=await resolve(container.rotation_metrics),
        clock=clock,
        interval=settings.rotation.interval.total_seconds(),
    )
    spool_wakeup = await resolve(container.spool_wakeup)
    workers.wake_on_stop(wakeup)
    workers.wake_on_stop(spool_wakeup)
    splitter = SplittingWorker(
        split=await resolve(container.split_deliveries),
        poll_interval=messaging.poll_interval.total_seconds(),
        wakeup=spool_wakeup,
        metrics=await resolve(container.split_metrics),
        inbox=await resolve(container.inbox),  # type: ignore[arg-type]  # a Protocol
        clock=clock,
    )
    forwarding: list[ForwardingWorker] = []
    for number in range(1, messaging.workers + 1):
        forward: ForwardEvents | None = await resolve(container.forward_events)
        if forward is None:
            log.warning("forwarding_disabled", reason="MESSAGING_SERVICE_URL is not set")
            break
        forwarding.append(
            ForwardingWorker(
                name=f"forward-{number}",
                forward=forward,
                batch_size=messaging.batch_size,
                poll_interval=messaging.poll_interval.total_seconds(),
                wakeup=wakeup,
                metrics=metrics,
            )
        )

    # Mercado Pago notifications are applied here too, whether or not anything is forwarded.
    notification_worker = NotificationWorker(
        process=(await resolve(container.payment_wiring)).processor,
        metrics=NotificationMetrics(registry=await resolve(container.registry)),
        poll_interval=messaging.poll_interval.total_seconds(),
    )

    async def run() -> None:
        if not await wait_for_schema(engine, probe, stop=workers.stopping):
            return
        log.info(
            "workers_started",
            forwarding_workers=len(forwarding),
            batch_size=messaging.batch_size,
            poll_interval_seconds=messaging.poll_interval.total_seconds(),
        )
        await asyncio.gather(
            refresh_outbox_gauges(
                events=events, metrics=metrics, clock=clock, stop=workers.stopping
            ),
            splitter.run(workers.stopping),
            splitter.refresh_gauges(workers.stopping),
            *(worker.run(workers.stopping) for worker in forwarding),
            notification_worker.run(workers.stopping),
            rotation.run(workers.stopping),
            purge_idempotency_records(store=idempotency, clock=clock, stop=workers.stopping),
        )

    workers.start("background", run())
