"""Bearer tokens: HS256 only, exp and tenant_id required, nbf honoured, scopes enforced."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from structlog.testing import capture_logs

from adapters_http import JwtAuthenticator, Principal, add_route, issue_token, require
from integration_core.credentials import Secret
from integration_core.errors import Unauthorized
from integration_core.testing import FrozenClock

SCOPE = "integrations:read"


async def whoami(request: web.Request) -> web.Response:
    principal = require(request, SCOPE)
    return web.json_response(
        {
            "tenant_id": principal.tenant_id,
            "scopes": sorted(principal.scopes),
            "subject": principal.subject,
        }
    )


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/whoami", whoami)


@pytest.fixture
async def client(make_client: Any) -> Any:
    return await make_client(setup=setup)


@pytest.fixture
def encode(jwt_secret: Secret, clock: FrozenClock) -> Callable[..., str]:
    """Sign arbitrary claims with the app's secret; exp defaults to an hour from now."""

    def make(claims: dict[str, Any] | None = None, **extra: Any) -> str:
        now = int(clock.now().timestamp())
        payload: dict[str, Any] = {"tenant_id": "tenant-1", "scope": SCOPE, "exp": now + 3600}
        payload.update(claims or {})
        payload.update(extra)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, jwt_secret.reveal().encode(), algorithm="HS256")

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def assert_401(response: Any, *, token_given: bool = True) -> None:
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    expected = 'Bearer error="invalid_token"' if token_given else "Bearer"
    assert response.headers["WWW-Authenticate"] == expected


async def test_a_valid_token_identifies_the_tenant(client: Any, token_for: Any) -> None:
    response = await client.get("/whoami", headers=bearer(token_for(SCOPE, "events:read")))

    assert response.status == 200
    assert await response.json() == {
        "tenant_id": "tenant-1",
        "scopes": ["events:read", SCOPE],
        "subject": None,
    }


async def test_the_scheme_is_case_insensitive(client: Any, token_for: Any) -> None:
    response = await client.get("/whoami", headers={"Authorization": f"bearer {token_for(SCOPE)}"})

    assert response.status == 200


async def test_a_missing_header_is_401_with_www_authenticate(client: Any) -> None:
    await assert_401(await client.get("/whoami"), token_given=False)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer   ", "token"])
async def test_a_header_without_a_bearer_token_is_401(client: Any, header: str) -> None:
    await assert_401(await client.get("/whoami", headers={"Authorization": header}))


async def test_a_garbage_token_is_401(client: Any) -> None:
    await assert_401(await client.get("/whoami", headers=bearer("not.a.jwt")))


async def test_an_expired_token_is_401(client: Any, encode: Any, clock: FrozenClock) -> None:
    token = encode(exp=int(clock.now().timestamp()) - 1)

    response = await client.get("/whoami", headers=bearer(token))

    await assert_401(response)
    assert "expired" in (await response.json())["error"]["message"]


async def test_a_token_expires_exactly_at_exp(client: Any, encode: Any, clock: FrozenClock) -> None:
    token = encode(exp=int(clock.now().timestamp()) + 10)

    assert (await client.get("/whoami", headers=bearer(token))).status == 200
    clock.advance(seconds=10)
    await assert_401(await client.get("/whoami", headers=bearer(token)))


async def test_a_token_not_valid_yet_is_401(client: Any, encode: Any, clock: FrozenClock) -> None:
    token = encode(nbf=int(clock.now().timestamp()) + 60)

    response = await client.get("/whoami", headers=bearer(token))

    await assert_401(response)
    clock.advance(seconds=60)
    assert (await client.get("/whoami", headers=bearer(token))).status == 200


async def test_leeway_applies_only_when_configured(
    make_client: Any, make_services: Any, encode: Any, clock: FrozenClock, jwt_secret: Secret
) -> None:
    now = int(clock.now().timestamp())
    expired = encode(exp=now - 20)
    early = encode(nbf=now + 20)
    lenient = await make_client(
        make_services(
            authenticator=JwtAuthenticator(secret=jwt_secret, leeway_seconds=30, clock=clock)
        ),
        setup,
    )
    strict = await make_client(make_services(), setup)

    for token in (expired, early):
        assert (await lenient.get("/whoami", headers=bearer(token))).status == 200
        await assert_401(await strict.get("/whoami", headers=bearer(token)))
    clock.advance(seconds=11)
    await assert_401(await lenient.get("/whoami", headers=bearer(expired)))


async def test_a_token_signed_with_another_secret_is_401(client: Any, clock: FrozenClock) -> None:
    token = issue_token(
        secret=Secret("another-secret-that-is-also-long-enough-x"),
        tenant_id="tenant-1",
        scopes=[SCOPE],
        expires_in=timedelta(hours=1),
        now=clock.now(),
    )

    await assert_401(await client.get("/whoami", headers=bearer(token)))


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_alg_none_is_401(client: Any, clock: FrozenClock) -> None:
    claims = {"tenant_id": "tenant-1", "scope": SCOPE, "exp": int(clock.now().timestamp()) + 60}
    for alg in ("none", "None", "NONE"):
        token = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}."

        await assert_401(await client.get("/whoami", headers=bearer(token)))


async def test_asymmetric_algorithms_are_401(client: Any, clock: FrozenClock) -> None:
    claims = {"tenant_id": "tenant-1", "scope": SCOPE, "exp": int(clock.now().timestamp()) + 60}
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())

    for token in (
        jwt.encode(claims, rsa_key, algorithm="RS256"),
        jwt.encode(claims, rsa_key, algorithm="PS256"),
        jwt.encode(claims, ec_key, algorithm="ES256"),
    ):
        await assert_401(await client.get("/whoami", headers=bearer(token)))


async def test_another_hmac_algorithm_is_401(
    client: Any, clock: FrozenClock, jwt_secret: Secret
) -> None:
    claims = {"tenant_id": "tenant-1", "scope": SCOPE, "exp": int(clock.now().timestamp()) + 60}
    token = jwt.encode(claims, jwt_secret.reveal().encode(), algorithm="HS512")

    await assert_401(await client.get("/whoami", headers=bearer(token)))


@pytest.mark.parametrize(
    "claims",
    [
        {"tenant_id": None},
        {"tenant_id": ""},
        {"tenant_id": "   "},
        {"tenant_id": 42},
        {"tenant_id": ["tenant-1"]},
        {"exp": None},
        {"exp": "tomorrow"},
        {"exp": True},
        {"nbf": "now"},
        {"scope": ["integrations:read"]},
    ],
    ids=[
        "missing-tenant",
        "empty-tenant",
        "blank-tenant",
        "numeric-tenant",
        "list-tenant",
        "missing-exp",
        "text-exp",
        "bool-exp",
        "text-nbf",
        "list-scope",
    ],
)
async def test_malformed_claims_are_401(client: Any, encode: Any, claims: dict[str, Any]) -> None:
    await assert_401(await client.get("/whoami", headers=bearer(encode(claims))))


async def test_a_missing_scope_is_403(client: Any, token_for: Any) -> None:
    response = await client.get("/whoami", headers=bearer(token_for("payments:write")))

    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


async def test_a_token_without_scope_claim_is_403(client: Any, encode: Any) -> None:
    response = await client.get("/whoami", headers=bearer(encode(scope=None)))

    assert response.status == 403


async def test_unknown_scopes_are_ignored(client: Any, encode: Any) -> None:
    token = encode(scope=f"admin:everything {SCOPE} integrations:read:all", sub="ops@example")

    response = await client.get("/whoami", headers=bearer(token))

    assert await response.json() == {
        "tenant_id": "tenant-1",
        "scopes": [SCOPE],
        "subject": "ops@example",
    }


async def test_neither_token_nor_secret_reaches_the_response_or_the_logs(
    client: Any, encode: Any, clock: FrozenClock, jwt_secret: Secret
) -> None:
    expired = encode(exp=int(clock.now().timestamp()) - 1)
    forbidden = encode(scope="payments:read")

    with capture_logs() as logs:
        texts = [
            await (await client.get("/whoami", headers=bearer(token))).text()
            for token in (expired, forbidden, expired + "x")
        ]

    everything = "".join(texts) + repr(logs)
    for token in (expired, forbidden):
        for part in token.split("."):
            assert part not in everything
    assert jwt_secret.reveal() not in everything


def test_issue_token_round_trips(jwt_secret: Secret) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    token = issue_token(
        secret=jwt_secret,
        tenant_id="tenant-9",
        scopes={"payments:read", "payments:write"},
        expires_in=timedelta(hours=24),
        now=now,
        subject="cli",
    )
    authenticator = JwtAuthenticator(secret=jwt_secret, clock=FrozenClock(now))

    principal = authenticator.authenticate(token)

    assert principal == Principal(
        tenant_id="tenant-9",  # type: ignore[arg-type]  # TenantId is a NewType of str
        scopes=frozenset({"payments:read", "payments:write"}),
        subject="cli",
    )
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert claims["exp"] == int((now + timedelta(hours=24)).timestamp())
    with pytest.raises(Unauthorized):
        JwtAuthenticator(
            secret=jwt_secret, clock=FrozenClock(now + timedelta(hours=24))
        ).authenticate(token)


@pytest.mark.parametrize(
    "overrides",
    [
        {"tenant_id": ""},
        {"scopes": ["integrations:admin"]},
        {"expires_in": timedelta(0)},
        {"now": datetime(2026, 1, 1)},  # noqa: DTZ001  # naive on purpose
    ],
    ids=["empty-tenant", "unknown-scope", "no-lifetime", "naive-now"],
)
def test_issue_token_refuses_bad_input(jwt_secret: Secret, overrides: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "secret": jwt_secret,
        "tenant_id": "tenant-1",
        "scopes": [SCOPE],
        "expires_in": timedelta(hours=1),
        "now": datetime(2026, 1, 1, tzinfo=UTC),
        **overrides,
    }

    with pytest.raises(ValueError, match=r"."):
        issue_token(**arguments)


def test_the_authenticator_does_not_show_its_secret(jwt_secret: Secret) -> None:
    authenticator = JwtAuthenticator(secret=jwt_secret)

    assert jwt_secret.reveal() not in repr(authenticator)
