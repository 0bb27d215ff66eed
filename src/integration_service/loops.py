"""The one skeleton of every background loop, and the small loops of a worker process.

A background loop does one step, waits, and does it again until its process stops; a database
that goes away never ends it (the work is safe where it is stored: the loop logs, waits and
tries again), and neither does a bug in one step (logged with its traceback). :class:`Periodic`
is that skeleton, written once; a loop is a *step* plus how long to wait after it.

Here too are the loops too small for a module of their own: the idempotency purge, the token
rotation scheduler and the Mercado Pago notification worker. The forwarding and splitting
workers are in :mod:`.workers`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Final, Literal

from adapters_observability.logging import get_logger
from adapters_observability.payment_metrics import NotificationMetrics
from adapters_observability.rotation_metrics import TokenRotationMetrics
from integration_core.errors import CredentialsUnavailable, StorageUnavailable
from integration_core.ports import Clock, IdempotencyStore, IntegrationStore
from integration_core.use_cases.payment_notifications import ProcessPaymentNotifications
from integration_core.use_cases.setup_idempotency import KEPT_FOR
from integration_core.use_cases.token_rotation import (
    RotateTokens,
    RotationOutcome,
    RotationReport,
    RotationResult,
)

_LOGGER: Final = "integration_service.loops"
FIRST_BACKOFF_SECONDS: Final = 0.5
MAX_BACKOFF_SECONDS: Final = 5.0
AT_ONCE: Final = 0.0
"""What a step returns when more work is waiting: go again now (after letting others run)."""

Step = Callable[[], Awaitable[float | None]]
"""One pass of a loop; returns how many seconds to wait before the next (``None``: the interval)."""


class Wakeup:
    """A doorbell the workers of one process wait on between polls.

    Workers poll every ``FORWARD_POLL_INTERVAL``; in an ``all`` process that is needless
    latency, since the process knows exactly when there is something to do: the event store
    rings the forwarders' doorbell after a commit that queued an event, the intake rings the
    splitter's after each spooled delivery. Across processes the poll interval is the signal.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._closed = False

    def ring(self) -> None:
        """Wake every worker waiting right now (and the next one to wait)."""
        self._event.set()

    def close(self) -> None:
        """Wake everyone for good: from now on :meth:`wait` returns at once (shutdown)."""
        self._closed = True
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Wait up to *seconds* for a ring; return whether one came, and reset it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        rung = self._event.is_set()
        if not self._closed:
            self._event.clear()
        return rung


class Backoff:
    """Capped exponential backoff: each failure doubles the wait, a success resets it."""

    def __init__(
        self, first: float = FIRST_BACKOFF_SECONDS, maximum: float = MAX_BACKOFF_SECONDS
    ) -> None:
        self._first = first
        self._maximum = maximum
        self._next = first

    def failed(self) -> float:
        """Return how long to wait after this failure."""
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay

    def succeeded(self) -> None:
        """Start again from the first delay."""
        self._next = self._first


class Periodic:
    """Run *step* until *stop* is set: wait after each step, survive every failure.

    After a step, wait what it returned (:data:`AT_ONCE` for more work waiting), or *interval*
    seconds when it returned ``None``. A step that raises :class:`StorageUnavailable` is logged
    as *unavailable* (at *outage_level*: ``debug`` for a gauge whose workers already warn),
    anything else as *failed* with its traceback; both with ``retry_in_seconds``, which is
    *backoff*'s next delay, or *interval* without one. With a *wakeup*, waits end early when it
    rings; close it at shutdown (:meth:`Workers.wake_on_stop`), since then *stop* is not watched
    while waiting.
    """

    def __init__(
        self,
        step: Step,
        *,
        interval: float,
        unavailable: str,
        failed: str,
        log: Any = None,
        backoff: Backoff | None = None,
        wakeup: Wakeup | None = None,
        outage_level: Literal["debug", "info", "warning"] = "warning",
    ) -> None:
        self._step = step
        self._interval = interval
        self._unavailable = unavailable
        self._failed = failed
        self._log = log if log is not None else get_logger(_LOGGER)
        self._backoff = backoff
        self._wakeup = wakeup
        self._outage_level = outage_level

    async def run(self, stop: asyncio.Event) -> None:
        """Run steps until *stop* is set; never raise for a failing step."""
        while not stop.is_set():
            try:
                wait = await self._step()
            except StorageUnavailable:
                delay = self._retry_delay()
                log = getattr(self._log, self._outage_level)
                log(self._unavailable, retry_in_seconds=delay)
                await self._wait(stop, delay)
                continue
            except Exception:  # noqa: BLE001 - a bug must not end the loop for good: log, retry
                delay = self._retry_delay()
                self._log.exception(self._failed, retry_in_seconds=delay)
                await self._wait(stop, delay)
                continue
            if self._backoff is not None:
                self._backoff.succeeded()
            await self._wait(stop, self._interval if wait is None else wait)

    def _retry_delay(self) -> float:
        return self._interval if self._backoff is None else self._backoff.failed()

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)  # go again at once, letting the rest of the process run first
        elif self._wakeup is not None:
            await self._wakeup.wait(seconds)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)


# --------------------------------------------------------------------------- idempotency purge
PURGE_INTERVAL_SECONDS: Final = 3600.0


async def purge_idempotency_records(
    stop: asyncio.Event,
    *,
    store: IdempotencyStore,
    clock: Clock,
    kept_for: timedelta = KEPT_FOR,
    interval: float = PURGE_INTERVAL_SECONDS,
) -> None:
    """Purge records older than *kept_for* now and every *interval* seconds until *stop*.

    A setup's ``Idempotency-Key`` is honoured for *kept_for*; after that its record is never
    read again. Any number of workers may purge at once: it is one ``DELETE`` by creation time.
    """
    log = get_logger("integration_service.housekeeping")

    async def purge() -> None:
        purged = await store.purge(created_before=clock.now() - kept_for)
        if purged:
            log.info("idempotency_records_purged", count=purged)

    loop = Periodic(
        purge,
        interval=interval,
        unavailable="idempotency_purge_storage_unavailable",
        failed="idempotency_purge_failed",
        log=log,
    )
    await loop.run(stop)


# --------------------------------------------------------------------------- token rotation
GAUGE_INTERVAL_SECONDS: Final = 60.0
# Every token with an expiry, however far: the gauge shows them all.
_ALL_EXPIRIES: Final = timedelta(days=365 * 100)
_QUIET = frozenset({RotationOutcome.PROBED})
_WORRYING = frozenset(
    {
        RotationOutcome.FAILED,
        RotationOutcome.EXHAUSTED,
        RotationOutcome.REJECTED,
        RotationOutcome.REVOKED,
        RotationOutcome.PROBE_FAILED,
    }
)


class TokenRotationScheduler:
    """Run a rotation pass every *interval* seconds and keep the expiry gauge current.

    One runs in each ``worker``/``all`` process; any number may share a database, since each
    integration is leased to one rotator at a time. Between passes it refreshes the expiry
    gauge every *gauge_interval* seconds. A pass cut short at shutdown loses nothing: its leases
    run out and the next pass picks the integrations up.
    """

    def __init__(
        self,
        *,
        rotate: RotateTokens,
        integrations: IntegrationStore,
        metrics: TokenRotationMetrics,
        clock: Clock,
        interval: float,
        gauge_interval: float = GAUGE_INTERVAL_SECONDS,
    ) -> None:
        self._rotate = rotate
        self._integrations = integrations
        self._metrics = metrics
        self._clock = clock
        self._interval = interval
        self._gauge_interval = gauge_interval
        self._log = get_logger("integration_service.token_rotation")

    async def run(self, stop: asyncio.Event) -> None:
        """Run passes until *stop* is set; never raise for a failing database or platform."""
        clock = asyncio.get_running_loop().time
        next_pass = clock()

        async def step() -> float:
            nonlocal next_pass
            if clock() >= next_pass:
                await self.run_pass()
                next_pass = clock() + self._interval
            await self._show_expiries()
            return min(self._gauge_interval, max(next_pass - clock(), 0.0))

        self._log.info("token_rotation_started", interval_seconds=self._interval)
        loop = Periodic(
            step,
            interval=self._interval,
            unavailable="token_rotation_storage_unavailable",
            failed="token_rotation_pass_failed",
            log=self._log,
        )
        await loop.run(stop)
        self._log.info("token_rotation_stopped")

    async def run_pass(self) -> RotationReport | None:
        """Run one pass, count and log its results; ``None`` if it could not run."""
        try:
            report = await self._rotate.run_once()
        except (StorageUnavailable, CredentialsUnavailable) as exc:
            self._log.warning("token_rotation_storage_unavailable", error=exc.message)
            return None
        except Exception:  # noqa: BLE001 - a bug must not end rotation for good: log, go on
            self._log.exception("token_rotation_pass_failed")
            return None
        self._metrics.observe(report)
        log_report(report)
        return report

    async def _show_expiries(self) -> None:
        try:
            found = await self._integrations.expiring_before(self._clock.now() + _ALL_EXPIRIES)
        except StorageUnavailable:
            return  # the pass already warns about the database
        except Exception:  # noqa: BLE001 - a gauge is never worth a dead task
            self._log.exception("token_expiry_gauge_failed")
            return
        self._metrics.show_expiries(found)


def log_report(report: RotationReport) -> None:
    """Log each result (no token, ever: only ids, outcome and the platform's message)."""
    log = get_logger("integration_service.token_rotation")
    for result in report.results:
        fields = _fields(result)
        if result.outcome in _WORRYING:
            log.warning("token_rotation_result", **fields)
        elif result.outcome in _QUIET:
            log.debug("token_rotation_result", **fields)
        else:
            log.info("token_rotation_result", **fields)
    if report.results:
        log.info("token_rotation_pass", **{str(k): v for k, v in sorted(report.counts.items())})


def summary(report: RotationReport) -> str:
    """Return one line for the operator: how many integrations had each outcome."""
    if not report.results:
        return "no integration was due for token rotation"
    counts = ", ".join(f"{outcome} {count}" for outcome, count in sorted(report.counts.items()))
    return f"{len(report.results)} integration(s): {counts}"


def _fields(result: RotationResult) -> dict[str, object]:
    expires_at = result.token_expires_at
    fields: dict[str, object] = {
        "integration_id": result.integration_id,
        "channel": result.channel.value,
        "outcome": result.outcome.value,
        "status": result.status.value,
        "token_expires_at": None if expires_at is None else expires_at.isoformat(),
    }
    if result.events:
        fields["events"] = [e.value for e in result.events]
    if result.error is not None:
        fields["error"] = result.error
    if not result.saved:
        fields["saved"] = False
    return fields


# --------------------------------------------------------------------------- payment notifications
class NotificationWorker:
    """Apply stored Mercado Pago notifications: fetch what each names, apply it, until *stop*.

    Notifications are answered ``200`` as soon as they are stored; this loop does the rest,
    going again at once after a full batch and backing off while the database is away.
    """

    def __init__(
        self,
        *,
        process: ProcessPaymentNotifications,
        metrics: NotificationMetrics,
        poll_interval: float,
    ) -> None:
        self._process = process
        self._metrics = metrics
        self._poll_interval = poll_interval
        self._log = get_logger("integration_service.payment_worker")

    async def run(self, stop: asyncio.Event) -> None:
        """Process batches until *stop* is set; never raise for a failing database."""
        loop = Periodic(
            self._step,
            interval=self._poll_interval,
            unavailable="notifications_storage_unavailable",
            failed="notifications_batch_failed",
            log=self._log,
            backoff=Backoff(),
        )
        await loop.run(stop)

    async def _step(self) -> float | None:
        processed = await self._process.run_once()
        self._metrics.observe(processed)
        for item in processed:
            self._log.info(
                "payment_notification_processed",
                notification_id=item.notification_id,
                outcome=item.outcome.value,
            )
        return AT_ONCE if len(processed) >= self._process.batch_size else None
