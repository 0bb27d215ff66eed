"""Count requests per scope and key, in process or shared by every replica through Redis.

The contract's limits are Go's ``rate.Limiter(rps, burst)``: a token bucket refilled at *rps*
tokens a second, holding at most *burst*. In one process that is exactly what
:class:`TokenBuckets` keeps. Shared through Redis, the ``limits`` library has no token bucket,
so each :class:`Rate` becomes one **moving window** of ``max(burst, ceil(rps * W))`` hits per
``W = max(1, ceil(burst / rps))`` seconds:

* a client that was idle can fire *burst* requests at once, like a full bucket;
* after that it sustains *rps* a second on average, like the refill;
* when ``burst / rps`` is a whole number (the usual ``rps=10, burst=20``) both match Go exactly;
  otherwise the window rounds toward letting a little more through, never less (a 1-second
  window is the finest the library keeps, so ``rps=100, burst=10`` allows 100 in any second).

A moving window, unlike a fixed one, never lets twice the budget through across a window edge,
and ``limits`` implements it atomically in Redis (a Lua script), so replicas share one budget.
Redis being down must not take the API down: :meth:`RateLimiter.hit` then fails open, logs a
warning (at most every few seconds) and skips Redis for a short cool-down.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import attrs
import structlog
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

if TYPE_CHECKING:
    import coredis

# Scopes the service uses; any name works, these are the ones metrics and alerts know.
SCOPE_IP: Final = "ip"
SCOPE_TENANT: Final = "tenant"
SCOPE_WEBHOOK: Final = "webhook"

_LOGGER_NAME: Final = "integration_service.rate_limit"


@attrs.frozen
class Rate:
    """A sustained *rps* requests a second with bursts of up to *burst* (Go's ``rate.Limiter``)."""

    rps: float = attrs.field(validator=attrs.validators.gt(0))
    burst: int = attrs.field(validator=attrs.validators.gt(0))

    @property
    def window_seconds(self) -> int:
        """Return the moving window's length: long enough to hold one full burst."""
        return max(1, math.ceil(self.burst / self.rps))

    @property
    def window_hits(self) -> int:
        """Return how many hits the window admits: one burst, or *rps* a second if more."""
        return max(self.burst, math.ceil(self.rps * self.window_seconds))

    def item(self) -> RateLimitItem:
        """Return the ``limits`` item that approximates this rate."""
        return RateLimitItemPerSecond(self.window_hits, self.window_seconds)


@attrs.frozen
class RateDecision:
    """Whether a hit is allowed, and if not, how many whole seconds to wait (at least 1)."""

    allowed: bool
    retry_after: int = 0


ALLOWED: Final = RateDecision(allowed=True)


class TokenBuckets:
    """Go's ``rate.Limiter``, exactly, for one process: a bucket of *burst* tokens per key,
    refilled at *rps* a second; each hit takes one.

    O(1) per hit and no background work: the in-process limiter sits on the webhook hot path,
    where ``limits``' in-memory moving window (a list of every hit in the window, trimmed in a
    worker thread) cost a fifth of the CPU. A full bucket is forgotten when the table grows
    past *max_keys* (it is what a new key gets anyway).
    """

    def __init__(self, rates: Mapping[str, Rate], *, max_keys: int = 100_000) -> None:
        self._rates = dict(rates)
        self._max_keys = max_keys
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def hit(self, scope: str, key: str) -> RateDecision:
        """Take a token of *key* in *scope* if there is one."""
        rate = self._rates.get(scope)
        if rate is None:
            return ALLOWED
        now = time.monotonic()
        tokens = self._tokens(rate, (scope, key), now)
        if tokens >= 1.0:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now)
            self._buckets[scope, key] = (tokens - 1.0, now)
            return ALLOWED
        self._buckets[scope, key] = (tokens, now)
        return _refused(rate, tokens)

    def peek(self, scope: str, key: str) -> RateDecision:
        """Say whether *key* has no token left in *scope*, taking none."""
        rate = self._rates.get(scope)
        if rate is None:
            return ALLOWED
        tokens = self._tokens(rate, (scope, key), time.monotonic())
        return ALLOWED if tokens >= 1.0 else _refused(rate, tokens)

    def reset(self, scope: str, key: str) -> None:
        """Refill the bucket of *key* in *scope*."""
        self._buckets.pop((scope, key), None)

    def _tokens(self, rate: Rate, bucket: tuple[str, str], now: float) -> float:
        found = self._buckets.get(bucket)
        if found is None:
            return float(rate.burst)
        tokens, since = found
        return min(float(rate.burst), tokens + (now - since) * rate.rps)

    def _forget_full(self, now: float) -> None:
        for bucket, (tokens, since) in list(self._buckets.items()):
            rate = self._rates[bucket[0]]
            if tokens + (now - since) * rate.rps >= rate.burst:
                del self._buckets[bucket]
        if len(self._buckets) >= self._max_keys:  # a flood of distinct keys: start afresh
            self._buckets.clear()


def _refused(rate: Rate, tokens: float) -> RateDecision:
    return RateDecision(allowed=False, retry_after=max(1, math.ceil((1.0 - tokens) / rate.rps)))


class RateLimiter:
    """Apply named rates (``ip``, ``tenant``, ``webhook``...) to keys such as a client IP.

    *rates* maps a scope to its :class:`Rate`; a scope without one is not limited, so the
    composition root enables each scope by configuring it. *redis_url* (``redis://`` or
    ``rediss://``) shares the counts between replicas; without it they live in this process.
    *key_prefix* namespaces the Redis keys (one per deployment, or per test). *redis_timeout*
    bounds each Redis round trip in seconds; *cooldown* is how long to fail open without even
    trying Redis after it failed.
    """

    def __init__(
        self,
        *,
        rates: Mapping[str, Rate],
        redis_url: str | None = None,
        key_prefix: str = "integration-service",
        redis_timeout: float = 0.5,
        cooldown: float = 5.0,
    ) -> None:
        self._items: dict[str, RateLimitItem] = {s: r.item() for s, r in rates.items()}
        self._buckets: TokenBuckets | None = TokenBuckets(rates) if redis_url is None else None
        self._timeout = redis_timeout
        self._cooldown = cooldown
        self._pool: coredis.ConnectionPool | None = None
        self._storage: Storage
        if redis_url is None:
            self._storage = MemoryStorage()
        else:
            # Imported here: coredis takes a second to import and most runs use no Redis.
            import coredis  # noqa: PLC0415

            # Our own pool, so aclose() can release it and timeouts apply to every call;
            # limits documents connection_pool but types **options narrowly.
            plain_url = redis_url.removeprefix("async+")
            self._pool = coredis.ConnectionPool.from_url(
                plain_url, connect_timeout=redis_timeout, stream_timeout=redis_timeout
            )
            self._storage = RedisStorage(
                f"async+{plain_url}",
                wrap_exceptions=True,
                implementation="coredis",
                key_prefix=key_prefix,
                connection_pool=self._pool,  # type: ignore[arg-type]  # see comment above
            )
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._skip_until = 0.0
        self._warned_at = -math.inf

    @property
    def shared(self) -> bool:
        """Tell whether the counts are shared through Redis."""
        return self._pool is not None

    async def hit(self, scope: str, key: str) -> RateDecision:
        """Count one request of *key* in *scope*; say whether it is within the scope's rate."""
        if self._buckets is not None:
            return self._buckets.hit(scope, key)
        return await self._ask_shared(scope, key, count=True)

    async def exhausted(self, scope: str, key: str) -> RateDecision:
        """Say whether *key* is over its rate in *scope*, without counting a hit.

        Lets a caller refuse at once what it would only count later (a webhook from an address
        whose unverified requests used up its budget), before doing any work for it.
        """
        if self._buckets is not None:
            return self._buckets.peek(scope, key)
        return await self._ask_shared(scope, key, count=False)

    async def _ask_shared(self, scope: str, key: str, *, count: bool) -> RateDecision:
        """Ask the shared (Redis) window about *key* in *scope*, counting a hit if *count*.

        Fails open: while Redis is down or slow, every request is allowed (see ``_fail_open``).
        """
        item = self._items.get(scope)
        if item is None or time.monotonic() < self._skip_until:
            return ALLOWED
        ask = self._strategy.hit if count else self._strategy.test
        try:
            async with asyncio.timeout(self._timeout * 2):
                if await ask(item, scope, key):
                    return ALLOWED
                stats = await self._strategy.get_window_stats(item, scope, key)
        except (StorageError, OSError, TimeoutError) as exc:
            self._fail_open(exc)
            return ALLOWED
        wait = math.ceil(stats.reset_time - time.time())
        return RateDecision(allowed=False, retry_after=min(max(1, wait), item.get_expiry()))

    async def reset(self, scope: str, key: str) -> None:
        """Forget the hits of *key* in *scope* (an operator unblocking a client; tests)."""
        if self._buckets is not None:
            self._buckets.reset(scope, key)
            return
        item = self._items.get(scope)
        if item is not None:
            await self._strategy.clear(item, scope, key)

    async def aclose(self) -> None:
        """Release the Redis connections; the composition root calls it at shutdown."""
        if self._pool is not None:
            self._pool.disconnect()

    def _fail_open(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._skip_until = now + self._cooldown
        if now - self._warned_at >= self._cooldown:
            self._warned_at = now
            # Never the URL: it may hold the Redis password.
            structlog.get_logger(_LOGGER_NAME).warning(
                "rate_limit_storage_unavailable",
                error=type(exc).__name__,
                fail_open_seconds=self._cooldown,
            )
