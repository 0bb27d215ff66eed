"""Token rotation: keep tenants' platform tokens alive, and say so when they cannot be.

One pass claims every integration that needs attention (see :class:`RotationCriteria`) and,
for each one:

- a token expiring within the margin is refreshed through its channel's
  :meth:`ChannelSetup.refresh_token` (the new token, and a new refresh token if one came back,
  replace the old ones); a platform without a refresh, or a failed attempt, warns once per token
  with ``integration.token_expiring``;
- a failed attempt cools down (doubling from ``cooldown`` up to ``max_cooldown``) and after
  ``max_failures`` in a row the token is given up on: ``reauthorization_required``;
- a token the platform rejects outright (:class:`InvalidCredentials`) needs the tenant at once:
  ``reauthorization_required``;
- a token past its expiry that was not refreshed is marked ``expired`` (``integration.expired``);
  its inbound events keep flowing, since receiving needs no token;
- a token that never expires is probed with :meth:`ChannelSetup.validate` every
  ``probe_interval``, so a revoked one is noticed before a reply fails.

Events go through the outbox before the result is saved: a crash in between repeats the work
on the next pass, and the dedupe keys keep the messaging service from hearing it twice.
"""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

import attrs

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import (
    CredentialsUnavailable,
    IntegrationServiceError,
    InvalidCredentials,
    StorageUnavailable,
)
from integration_core.events import EventRecord, EventType
from integration_core.ids import new_id
from integration_core.ports import (
    ChannelSetup,
    Clock,
    CredentialStore,
    EventLog,
    IntegrationStore,
)
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState
from integration_core.use_cases import integration_events
from integration_core.use_cases.onboarding import (
    TOKEN_FIELD,
    keep_refreshed,
    load_credentials,
)

# Our own storage failing says nothing about a token: give up the pass, the leases run out.
_OURS = (StorageUnavailable, CredentialsUnavailable)
_MAX_DOUBLINGS = 30  # keeps the backoff arithmetic far from timedelta's limits


@attrs.frozen(kw_only=True)
class RotationPolicy:
    """How eagerly tokens are refreshed and probed, and how patiently failures are retried.

    *lease* must outlast one platform call, retries included; a pass claims *batch_size*
    integrations at a time and handles them concurrently.
    """

    margin: timedelta = timedelta(days=10)
    probe_interval: timedelta = timedelta(hours=24)
    cooldown: timedelta = timedelta(hours=1)
    max_cooldown: timedelta = timedelta(hours=24)
    max_failures: int = 5
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 10

    def __attrs_post_init__(self) -> None:
        if self.max_failures < 1 or self.batch_size < 1:
            raise ValueError("max_failures and batch_size must be at least 1")
        if min(self.cooldown, self.probe_interval, self.lease) <= timedelta(0):
            raise ValueError("cooldown, probe_interval and lease must be positive")

    def cooldown_after(self, failures: int) -> timedelta:
        """Return the wait after the *failures*-th failure in a row (1: ``cooldown``)."""
        doublings = min(max(failures - 1, 0), _MAX_DOUBLINGS)
        return min(self.cooldown * (1 << doublings), self.max_cooldown)


class RotationOutcome(enum.StrEnum):
    """What one integration's turn came to (the ``outcome`` label of the metrics)."""

    REFRESHED = "refreshed"
    NOT_REFRESHABLE = "not_refreshable"
    FAILED = "failed"
    EXHAUSTED = "exhausted"
    REJECTED = "rejected"
    PROBED = "probed"
    PROBE_FAILED = "probe_failed"
    REVOKED = "revoked"
    EXPIRED = "expired"

    @property
    def is_failure(self) -> bool:
        """Tell whether the attempt failed on the way (worth an operator's look)."""
        return self in _FAILURES


_FAILURES = frozenset(
    {RotationOutcome.FAILED, RotationOutcome.EXHAUSTED, RotationOutcome.PROBE_FAILED}
)


@attrs.frozen(kw_only=True)
class RotationResult:
    """One integration's turn: its outcome, where it ended up, the events raised.

    *events* are the ones queued by this turn (not those already sent for the same token);
    *error* is the platform's message (secrets stripped by the adapters); *saved* is ``False``
    when the lease was lost meanwhile (the integration was deleted, or the pass took too long).
    """

    integration_id: str
    channel: Channel
    outcome: RotationOutcome
    status: IntegrationStatus
    token_expires_at: datetime | None
    events: tuple[EventType, ...] = ()
    error: str | None = None
    saved: bool = True


@attrs.frozen(kw_only=True)
class RotationReport:
    """Every result of one pass."""

    results: tuple[RotationResult, ...] = ()

    @property
    def counts(self) -> Mapping[RotationOutcome, int]:
        """Return how many integrations had each outcome."""
        return Counter(r.outcome for r in self.results)

    @property
    def failed(self) -> bool:
        """Tell whether any refresh or probe failed on the way."""
        return any(r.outcome.is_failure for r in self.results)


@attrs.frozen(kw_only=True)
class _Step:
    outcome: RotationOutcome
    integration: Integration
    state: RotationState
    events: tuple[EventRecord, ...] = ()
    error: str | None = None


class RotateTokens:
    """Run token rotation passes (``integration-service rotate-tokens`` and the scheduler).

    *setups* are the platforms' channel setups; a channel without one is only watched for
    expiry. Any number of these may run at once, in any number of processes.
    """

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        credentials: CredentialStore,
        events: EventLog,
        setups: Mapping[Channel, ChannelSetup],
        clock: Clock,
        policy: RotationPolicy,
    ) -> None:
        self._integrations = integrations
        self._credentials = credentials
        self._events = events
        self._setups = setups
        self._clock = clock
        self._policy = policy

    async def run_once(self) -> RotationReport:
        """Claim and handle every integration due now, batch by batch; return the results.

        Raises :class:`StorageUnavailable` or :class:`CredentialsUnavailable` when our own
        storage fails (what was claimed comes back when its lease ends).
        """
        now = self._clock.now()
        owner = new_id("rot", now_ms=_millis(now))
        results: list[RotationResult] = []
        seen: set[str] = set()
        while True:
            now = self._clock.now()
            claims = await self._integrations.claim_for_rotation(
                RotationCriteria(
                    owner=owner,
                    now=now,
                    refresh_before=now + self._policy.margin,
                    probe_channels=frozenset(self._setups),
                    lease=self._policy.lease,
                    limit=self._policy.batch_size,
                )
            )
            fresh = [c for c in claims if c.integration.id not in seen]
            seen.update(c.integration.id for c in claims)
            # Side by side: every claim of the batch starts its platform call at once, well
            # inside its lease (one at a time, the last would wait for all the others).
            handled = await asyncio.gather(
                *(self._handle(claim) for claim in claims), return_exceptions=True
            )
            results.extend(r for r in handled if isinstance(r, RotationResult))
            if failed := next((r for r in handled if isinstance(r, BaseException)), None):
                raise failed
            if len(claims) < self._policy.batch_size or not fresh:
                return RotationReport(results=tuple(results))

    async def _handle(self, claim: RotationClaim) -> RotationResult:
        now = self._clock.now()
        integration = claim.integration
        if integration.token_expires_at is None:
            step = await self._probe(integration, claim.state, now)
        elif claim.state.is_due(now):
            step = await self._refresh(integration, claim.state, now)
        else:  # cooling down, claimed because its token lapsed meanwhile
            step = _Step(
                outcome=RotationOutcome.EXPIRED, integration=integration, state=claim.state
            )
        step = _mark_lapsed(step, now)
        raised: tuple[EventType, ...] = ()
        if step.events:
            new = await self._events.record(None, list(step.events))
            raised = tuple(e.type for e, is_new in zip(step.events, new, strict=True) if is_new)
        saved = await self._integrations.release_rotation(
            claim, integration=step.integration, state=step.state
        )
        return RotationResult(
            integration_id=integration.id,
            channel=integration.channel,
            outcome=step.outcome,
            status=step.integration.status,
            token_expires_at=step.integration.token_expires_at,
            events=raised,
            error=step.error,
            saved=saved,
        )

    async def _refresh(
        self, integration: Integration, state: RotationState, now: datetime
    ) -> _Step:
        setup = self._setups.get(integration.channel)
        token_field = TOKEN_FIELD.get(integration.channel)
        try:
            refreshed = None
            if setup is not None and token_field is not None:
                secrets = await load_credentials(self._credentials, integration)
                refreshed = await setup.refresh_token(integration=integration, credentials=secrets)
        except _OURS:
            raise
        except InvalidCredentials as exc:
            return _reauthorize(integration, now, RotationOutcome.REJECTED, exc.message)
        except IntegrationServiceError as exc:
            failures = state.failures_of(integration) + 1
            if failures >= self._policy.max_failures:
                return _reauthorize(integration, now, RotationOutcome.EXHAUSTED, exc.message)
            return _Step(
                outcome=RotationOutcome.FAILED,
                integration=integration,
                state=RotationState(
                    failures=failures,
                    failed_expiry=integration.token_expires_at,
                    next_attempt_at=now + self._policy.cooldown_after(failures),
                ),
                events=_expiring(integration, now),
                error=exc.message,
            )
        if refreshed is None or token_field is None:
            # Nothing to do but warn; look again after a probe interval, not every pass.
            return _Step(
                outcome=RotationOutcome.NOT_REFRESHABLE,
                integration=integration,
                state=RotationState(next_attempt_at=now + self._policy.probe_interval),
                events=_expiring(integration, now),
            )
        updated = await keep_refreshed(
            self._credentials, integration, token_field, refreshed, at=now
        )
        raised: tuple[EventRecord, ...] = ()
        if integration.status is IntegrationStatus.EXPIRED:
            updated = updated.with_status(IntegrationStatus.ACTIVE, at=now)
            raised = (integration_events.recovered(updated, now),)
        # A platform may hand back a token that is still inside the margin: do not ask again
        # before a cooldown, or every pass would refresh it.
        return _Step(
            outcome=RotationOutcome.REFRESHED,
            integration=updated,
            state=RotationState(next_attempt_at=now + self._policy.cooldown),
            events=raised,
        )

    async def _probe(self, integration: Integration, state: RotationState, now: datetime) -> _Step:
        setup = self._setups.get(integration.channel)
        next_probe = now + self._policy.probe_interval
        if setup is None:  # the channel lost its setup since the claim's criteria were built
            return _Step(
                outcome=RotationOutcome.PROBED,
                integration=integration,
                state=RotationState(next_attempt_at=next_probe),
            )
        try:
            secrets = await load_credentials(self._credentials, integration)
            account = await setup.validate(credentials=secrets, config=integration.config)
        except _OURS:
            raise
        except InvalidCredentials as exc:
            return _reauthorize(integration, now, RotationOutcome.REVOKED, exc.message)
        except IntegrationServiceError as exc:
            # An unreachable platform says nothing about the token: retry, never give up on it.
            failures = state.failures_of(integration) + 1
            wait = min(self._policy.cooldown_after(failures), self._policy.probe_interval)
            return _Step(
                outcome=RotationOutcome.PROBE_FAILED,
                integration=integration,
                state=RotationState(failures=failures, next_attempt_at=now + wait),
                error=exc.message,
            )
        updated = integration
        if account.token_expires_at is not None:  # it has an expiry now: rotate it from here on
            updated = attrs.evolve(
                integration, token_expires_at=account.token_expires_at, updated_at=now
            )
        return _Step(
            outcome=RotationOutcome.PROBED,
            integration=updated,
            state=RotationState(next_attempt_at=next_probe),
        )


def _reauthorize(
    integration: Integration, now: datetime, outcome: RotationOutcome, error: str
) -> _Step:
    updated = integration.with_status(IntegrationStatus.REAUTHORIZATION_REQUIRED, at=now)
    return _Step(
        outcome=outcome,
        integration=updated,
        # The count starts again from zero once the tenant has fixed the token.
        state=RotationState(),
        events=(integration_events.reauthorization_required(integration, updated, now),),
        error=error,
    )


def _expiring(integration: Integration, now: datetime) -> tuple[EventRecord, ...]:
    """Warn once per token (its expiry is the key), unless it has lapsed already."""
    expires_at = integration.token_expires_at
    if expires_at is None or expires_at <= now:
        return ()
    return (integration_events.token_expiring(integration, now),)


def _mark_lapsed(step: _Step, now: datetime) -> _Step:
    """Mark an active integration whose token is past its expiry ``expired``."""
    integration = step.integration
    expires_at = integration.token_expires_at
    if integration.status is not IntegrationStatus.ACTIVE or expires_at is None:
        return step
    if expires_at > now:
        return step
    expired = integration.with_status(IntegrationStatus.EXPIRED, at=now)
    return attrs.evolve(
        step, integration=expired, events=(*step.events, integration_events.expired(expired, now))
    )


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
