"""What one ``serve`` process runs: the HTTP side, the background loops, or both.

``--role api`` takes webhooks (verifies and spools them) and serves the management API;
``--role worker`` splits spooled deliveries into events, forwards events, applies Mercado Pago
notifications and rotates tokens (and serves only health and metrics); ``all``, the default,
does both in one process. Any number of each may share one database: claims are leased
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two workers never hold the same event, and intake
deduplicates in the database, so two api processes never store one twice. The container builds
a worker's loops with :func:`background`.
"""

from __future__ import annotations

import asyncio
import enum
import functools
from collections.abc import Awaitable, Callable

import attrs

from adapters_observability.forward_metrics import ForwardMetrics
from adapters_observability.split_metrics import SplitMetrics
from integration_core.ports import (
    Clock,
    EventInbox,
    EventStore,
    IdempotencyStore,
    MessageForwarder,
)
from integration_core.use_cases.splitting import SplitDeliveries
from integration_service.loops import (
    NotificationWorker,
    TokenRotationScheduler,
    Wakeup,
    purge_idempotency_records,
)
from integration_service.settings import Settings
from integration_service.wiring import forward_events
from integration_service.workers import ForwardingWorker, SplittingWorker, refresh_outbox_gauges

Loop = Callable[[asyncio.Event], Awaitable[None]]
"""A background loop: runs until the event it is given is set."""


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


@attrs.frozen(kw_only=True)
class Background:
    """What a ``worker``/``all`` process runs: its loops, and the doorbells to close at stop."""

    loops: tuple[Loop, ...]
    wakeups: tuple[Wakeup, ...]
    forwarding_workers: int
    split_workers: int


def background(
    *,
    settings: Settings,
    split: SplitDeliveries,
    split_metrics: SplitMetrics,
    inbox: EventInbox,
    forwarder: MessageForwarder | None,
    wakeup: Wakeup,
    spool_wakeup: Wakeup,
    forward_metrics: ForwardMetrics,
    events: EventStore,
    clock: Clock,
    notifications: NotificationWorker,
    rotation: TokenRotationScheduler,
    idempotency: IdempotencyStore,
) -> Background:
    """Build every background loop of a worker process.

    One forwarding worker per ``FORWARD_WORKERS``, each with its own use case (so its own
    concurrency limit), none without ``MESSAGING_SERVICE_URL`` (no *forwarder*); the outbox
    gauges still run then, so the backlog is visible. ``SPLIT_WORKERS`` splitting loops: *split*
    and, beside it, splitters over the same stores that each forward with a use case of their
    own (settings not yet decided for a process, see
    :meth:`~integration_service.settings.MessagingSettings.for_process`, give one). Mercado Pago
    notifications are applied whether or not anything is forwarded.
    """
    poll = settings.messaging.poll_interval.total_seconds()
    splits = [split] + [
        split.alongside(forward_events(settings, events, forwarder, clock))
        for _ in range((settings.messaging.split_workers or 1) - 1)
    ]
    splitter = SplittingWorker(
        splits=splits,
        poll_interval=poll,
        wakeup=spool_wakeup,
        metrics=split_metrics,
        forward_metrics=forward_metrics,
        inbox=inbox,
        clock=clock,
    )
    forwarding: list[ForwardingWorker] = []
    for number in range(1, settings.messaging.workers + 1):
        forward = forward_events(settings, events, forwarder, clock)
        if forward is None:
            break
        worker = ForwardingWorker(
            name=f"forward-{number}",
            forward=forward,
            batch_size=settings.messaging.batch_size,
            poll_interval=poll,
            wakeup=wakeup,
            metrics=forward_metrics,
        )
        forwarding.append(worker)
    loops: list[Loop] = [
        functools.partial(
            refresh_outbox_gauges, events=events, metrics=forward_metrics, clock=clock
        ),
        splitter.run,
        splitter.refresh_gauges,
        *(worker.run for worker in forwarding),
        notifications.run,
        rotation.run,
        functools.partial(purge_idempotency_records, store=idempotency, clock=clock),
    ]
    return Background(
        loops=tuple(loops),
        wakeups=(wakeup, spool_wakeup),
        forwarding_workers=len(forwarding),
        split_workers=len(splits),
    )
