"""Per-IP rate limit on every route: burst, 429 + Retry-After, isolation, Redis, fail-open."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters_http import Rate, RateDecision

HEALTH = "/api/v1/health"


async def statuses(client: Any, count: int, **kwargs: Any) -> list[int]:
    return [(await client.get(HEALTH, **kwargs)).status for _ in range(count)]


def rate_limited_count(services: Any, scope: str = "ip") -> float:
    value = services.registry.get_sample_value("integration_rate_limited_total", {"scope": scope})
    return float(value)


async def test_a_burst_passes_then_429_with_retry_after(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    services = make_services(rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=3)}))
    client = await make_client(services)

    assert await statuses(client, 3) == [200, 200, 200]
    refused = await client.get(HEALTH)

    assert refused.status == 429
    assert refused.content_type == "application/json"
    error = (await refused.json())["error"]
    assert error["code"] == "rate_limited"
    assert error["request_id"] == refused.headers["X-Request-ID"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 3
    assert rate_limited_count(services) == 1


async def test_other_routes_share_the_ip_budget(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    services = make_services(rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=2)}))
    client = await make_client(services)

    assert (await client.get("/metrics")).status == 200
    assert (await client.get("/nowhere")).status == 404
    assert (await client.get("/api/v1/ready")).status == 429


async def test_exempt_routes_skip_the_ip_limit(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    services = make_services(
        rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=1)}),
        settings={"rate_limit_exempt_routes": ("/metrics",)},
    )
    client = await make_client(services)

    assert [(await client.get(p)).status for p in ("/metrics", "/metrics/", "/metrics")] == [
        200,
        200,
        200,
    ]
    assert await statuses(client, 2) == [200, 429]


async def test_each_ip_has_its_own_budget_behind_a_trusted_proxy(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    services = make_services(
        rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=2)}),
        settings={"trust_proxy_headers": True},
    )
    client = await make_client(services)
    first = {"X-Forwarded-For": "203.0.113.7"}
    second = {"X-Forwarded-For": "198.51.100.9"}

    assert await statuses(client, 3, headers=first) == [200, 200, 429]
    assert await statuses(client, 2, headers=second) == [200, 200]


async def test_a_client_cannot_pick_its_bucket_by_prepending_hops(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    services = make_services(
        rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=2)}),
        settings={"trust_proxy_headers": True},
    )
    client = await make_client(services)
    answers = [
        (
            await client.get(HEALTH, headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7"})
        ).status
        for i in range(3)
    ]
    assert answers == [200, 200, 429]


async def test_x_forwarded_for_is_ignored_unless_trusted(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    services = make_services(rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=2)}))
    client = await make_client(services)

    answers = [
        (await client.get(HEALTH, headers={"X-Forwarded-For": f"203.0.113.{i}"})).status
        for i in range(3)
    ]

    assert answers == [200, 200, 429]


async def test_a_junk_forwarded_address_falls_back_to_the_peer(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    services = make_services(
        rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=2)}),
        settings={"trust_proxy_headers": True},
    )
    client = await make_client(services)

    answers = [
        (await client.get(HEALTH, headers={"X-Forwarded-For": f"junk-{i}"})).status
        for i in range(3)
    ]

    assert answers == [200, 200, 429]


async def test_the_budget_is_shared_through_redis(
    make_client: Any,
    make_services: Any,
    make_rate_limiter: Any,
    redis_url: str,
    key_prefix: str,
) -> None:
    def replica() -> Any:
        limiter = make_rate_limiter(
            rates={"ip": Rate(rps=1, burst=3)}, redis_url=redis_url, key_prefix=key_prefix
        )
        assert limiter.shared
        return make_services(rate_limiter=limiter)

    one = await make_client(replica())
    two = await make_client(replica())

    assert await statuses(one, 2) == [200, 200]
    assert await statuses(two, 2) == [200, 429]
    refused = await one.get(HEALTH)
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1


async def test_separate_prefixes_do_not_share(
    make_client: Any, make_services: Any, make_rate_limiter: Any, redis_url: str, key_prefix: str
) -> None:
    clients = [
        await make_client(
            make_services(
                rate_limiter=make_rate_limiter(
                    rates={"ip": Rate(rps=1, burst=1)},
                    redis_url=redis_url,
                    key_prefix=f"{key_prefix}-{n}",
                )
            )
        )
        for n in range(2)
    ]

    assert [await statuses(c, 1) for c in clients] == [[200], [200]]


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
async def test_exhausted_peeks_without_counting_a_hit(
    make_rate_limiter: Any, redis_url: str, key_prefix: str, *, shared: bool
) -> None:
    redis = {"redis_url": redis_url, "key_prefix": key_prefix} if shared else {}
    limiter = make_rate_limiter(rates={"ip": Rate(rps=1, burst=2)}, **redis)
    assert limiter.shared is shared

    for _ in range(3):
        assert (await limiter.exhausted("ip", "5.6.7.8")).allowed  # a peek counts nothing
    assert (await limiter.hit("ip", "5.6.7.8")).allowed
    assert (await limiter.hit("ip", "5.6.7.8")).allowed
    refused = await limiter.exhausted("ip", "5.6.7.8")
    assert not refused.allowed
    assert refused.retry_after >= 1
    assert (await limiter.exhausted("ip", "5.6.7.9")).allowed


async def test_unreachable_redis_fails_open_with_one_warning(
    make_client: Any, make_services: Any, make_rate_limiter: Any, closed_port: int
) -> None:
    url = f"redis://:hunter2@127.0.0.1:{closed_port}/0"
    limiter = make_rate_limiter(rates={"ip": Rate(rps=1, burst=1)}, redis_url=url)
    client = await make_client(make_services(rate_limiter=limiter))

    with capture_logs() as logs:
        answers = await statuses(client, 4)

    assert answers == [200, 200, 200, 200]
    warnings = [e for e in logs if e["event"] == "rate_limit_storage_unavailable"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert "hunter2" not in repr(logs)


async def test_scopes_have_their_own_rates(make_rate_limiter: Any) -> None:
    limiter = make_rate_limiter(rates={"ip": Rate(rps=1, burst=1), "webhook": Rate(rps=1, burst=2)})

    assert await limiter.hit("webhook", "telegram") == RateDecision(allowed=True)
    assert (await limiter.hit("webhook", "telegram")).allowed
    refused = await limiter.hit("webhook", "telegram")
    assert not refused.allowed
    assert 1 <= refused.retry_after <= 2
    assert (await limiter.hit("webhook", "whatsapp")).allowed
    assert (await limiter.hit("ip", "telegram")).allowed


async def test_a_scope_without_a_rate_is_not_limited(make_rate_limiter: Any) -> None:
    limiter = make_rate_limiter(rates={})

    assert all([(await limiter.hit("tenant", "t1")).allowed for _ in range(50)])


async def test_reset_forgets_a_key(make_rate_limiter: Any) -> None:
    limiter = make_rate_limiter(rates={"ip": Rate(rps=1, burst=1)})
    await limiter.hit("ip", "1.2.3.4")

    await limiter.reset("ip", "1.2.3.4")

    assert (await limiter.hit("ip", "1.2.3.4")).allowed


@pytest.mark.parametrize(
    ("rps", "burst", "hits", "seconds"),
    [(10, 20, 20, 2), (1, 3, 3, 3), (100, 10, 100, 1), (3, 5, 6, 2), (0.5, 1, 1, 2)],
)
def test_a_rate_becomes_a_moving_window(rps: float, burst: int, hits: int, seconds: int) -> None:
    rate = Rate(rps=rps, burst=burst)

    assert (rate.window_hits, rate.window_seconds) == (hits, seconds)
    assert rate.item().amount == hits
    assert rate.item().get_expiry() == seconds


@pytest.mark.parametrize(("rps", "burst"), [(0, 1), (1, 0), (-1, 5)])
def test_a_rate_must_be_positive(rps: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        Rate(rps=rps, burst=burst)
