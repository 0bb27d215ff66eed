"""The background loops of a ``worker``/``all`` process: splitting, forwarding, and the gauges.

A forwarding worker drains the outbox one batch at a time: a full batch means more is waiting,
so it claims again at once; an empty or short one means it has caught up, so it sleeps for the
poll interval (or until the intake of this process rings the :class:`Wakeup`). A database
outage must not end the loop, since the events are safe in the outbox and the database comes
back: the worker logs, backs off and tries again. On shutdown a worker finishes the batch in
hand, and :class:`Workers` cancels whatever is still running at the deadline; the leases of
the events it held hand them to the next worker once they run out.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final

from adapters_observability.forward_metrics import ForwardMetrics
from adapters_observability.logging import get_logger
from adapters_observability.split_metrics import SplitMetrics
from integration_core.ports import Clock, EventInbox, Outbox
from integration_core.use_cases.forwarding import ForwardEvents, Outcome
from integration_core.use_cases.splitting import SplitDeliveries
from integration_service.loops import AT_ONCE, Backoff, Periodic, Wakeup

_LOGGER: Final = "integration_service.workers"
GAUGE_INTERVAL_SECONDS: Final = 5.0


class ForwardingWorker:
    """Run :meth:`ForwardEvents.run_once` on the :class:`Periodic` runner until *stop* is set.

    *batch_size* must be the one *forward* claims with: a batch that came back full is how the
    worker knows more is waiting. *poll_interval* is in seconds.
    """

    def __init__(
        self,
        *,
        name: str,
        forward: ForwardEvents,
        batch_size: int,
        poll_interval: float,
        wakeup: Wakeup,
        metrics: ForwardMetrics,
    ) -> None:
        self._forward = forward
        self._batch_size = batch_size
        self._metrics = metrics
        self._log = get_logger(_LOGGER).bind(worker=name)
        self._loop = _drain_loop(self._step, "forwarding", poll_interval, wakeup, self._log)

    async def run(self, stop: asyncio.Event) -> None:
        """Forward batches until *stop* is set; never raise for a failing database."""
        self._log.info("forwarding_worker_started")
        await self._loop.run(stop)
        self._log.info("forwarding_worker_stopped")

    async def _step(self) -> float | None:
        attempts = await self._forward.run_once()
        self._metrics.observe(attempts)
        if attempts:
            self._log.debug("forwarded_batch", size=len(attempts))
            stale = [a.event_id for a in attempts if a.outcome is Outcome.STALE]
            if stale:
                # A replay (or a newer claim) took these over mid-attempt: not an error.
                self._log.info("forwarding_attempts_stale", count=len(stale), events=stale)
        return AT_ONCE if len(attempts) >= self._batch_size else None


class SplittingWorker:
    """Run :meth:`SplitDeliveries.run_once` on the :class:`Periodic` runner until *stop* is
    set: drain the spool of deliveries, one loop per splitter in *splits*, side by side.

    Like the forwarding worker each loop goes again at once after a full batch, waits for
    *wakeup* (rung by this process's intake) or the poll interval after a short one, and backs
    off while the database is away; the deliveries are safe in the spool meanwhile. Several
    loops overlap one batch's waits (its claim, its commit, its forwarding round trips) with
    another's parsing. The attempts of the events the splitters forwarded themselves count in
    the forwarding metrics.
    """

    def __init__(
        self,
        *,
        splits: Sequence[SplitDeliveries],
        poll_interval: float,
        wakeup: Wakeup,
        metrics: SplitMetrics,
        forward_metrics: ForwardMetrics,
        inbox: EventInbox,
        clock: Clock,
    ) -> None:
        if not splits:
            raise ValueError("a splitting worker needs at least one splitter")
        self._metrics = metrics
        self._forward_metrics = forward_metrics
        self._inbox = inbox
        self._clock = clock
        self._log = get_logger(_LOGGER).bind(worker="split")
        self._loops = [
            _drain_loop(
                functools.partial(self._step, split),
                "splitting",
                poll_interval,
                wakeup,
                self._log.bind(worker=f"split-{number}"),
            )
            for number, split in enumerate(splits, start=1)
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Split batches until *stop* is set; never raise for a failing database."""
        await asyncio.gather(*(loop.run(stop) for loop in self._loops))

    async def _step(self, split: SplitDeliveries) -> float | None:
        report = await split.run_once()
        self._metrics.observe(report)
        if report.forwarded:
            self._forward_metrics.observe(report.forwarded)
        for channel in report.failed:
            self._log.warning("webhook_delivery_failed", channel=str(channel))
        return AT_ONCE if report.claimed >= split.batch_size else None

    async def refresh_gauges(
        self, stop: asyncio.Event, interval: float = GAUGE_INTERVAL_SECONDS
    ) -> None:
        """Set the spool gauges every *interval* seconds."""

        async def show() -> None:
            self._metrics.show(await self._inbox.spool_stats(), now=self._clock.now())

        await _gauge_loop(show, "spool_stats", interval, self._log).run(stop)


async def refresh_outbox_gauges(
    stop: asyncio.Event,
    *,
    events: Outbox,
    metrics: ForwardMetrics,
    clock: Clock,
    interval: float = GAUGE_INTERVAL_SECONDS,
) -> None:
    """Set the outbox gauges from :meth:`Outbox.stats` every *interval* seconds."""

    async def show() -> None:
        metrics.show(await events.stats(), now=clock.now())

    await _gauge_loop(show, "outbox_stats", interval, get_logger(_LOGGER)).run(stop)


def _drain_loop(
    step: Callable[[], Awaitable[float | None]],
    name: str,
    poll_interval: float,
    wakeup: Wakeup,
    log: Any,
) -> Periodic:
    """A queue drained batch after batch: woken by *wakeup*, backing off while storage is away
    (logged as ``{name}_storage_unavailable``, a bug as ``{name}_batch_failed``)."""
    return Periodic(
        step,
        interval=poll_interval,
        unavailable=f"{name}_storage_unavailable",
        failed=f"{name}_batch_failed",
        log=log,
        backoff=Backoff(),
        wakeup=wakeup,
    )


def _gauge_loop(
    show: Callable[[], Awaitable[None]], name: str, interval: float, log: Any
) -> Periodic:
    """A gauge every *interval* seconds; an outage is logged at debug (the workers warn)."""
    return Periodic(
        show,
        interval=interval,
        unavailable=f"{name}_unavailable",
        failed=f"{name}_failed",
        log=log,
        outage_level="debug",
    )


class Workers:
    """The background tasks of one process, stopped together with a deadline."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._wakeups: list[Wakeup] = []

    def start(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        """Run *loop* (which must return soon after :attr:`stopping` is set) as a task."""
        self._tasks.append(asyncio.create_task(loop, name=name))

    def wake_on_stop(self, wakeup: Wakeup) -> None:
        """Close *wakeup* when stopping, so idle workers notice at once, not at the next poll."""
        self._wakeups.append(wakeup)

    async def stop(self, seconds: float) -> None:
        """Ask every task to stop, wait up to *seconds*, then cancel the stragglers."""
        self.stopping.set()
        for wakeup in self._wakeups:
            wakeup.close()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=seconds)
        for task in pending:
            get_logger(_LOGGER).warning("worker_cancelled_at_shutdown", task=task.get_name())
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for task, result in zip(self._tasks, results, strict=True):
            if isinstance(result, Exception):
                get_logger(_LOGGER).error("worker_failed", task=task.get_name(), exc_info=result)
        self._tasks.clear()
