"""Every error is the JSON envelope, with the status and code of the one table."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from structlog.testing import capture_logs

from adapters_http import add_route
from adapters_http.error_envelope import error_envelope_middleware
from integration_core import errors

SECRET_TEXT = "SELECT password FROM users -- s3cr3t-value"


def raising(exc: BaseException) -> Any:
    async def handler(request: web.Request) -> web.Response:
        raise exc

    return handler


def with_route(path: str, handler: Any, method: str = "GET") -> Any:
    def setup(app: web.Application) -> None:
        add_route(app, method, path, handler)

    return setup


async def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    return dict(error)


async def test_unknown_path_is_a_404_envelope(make_client: Any) -> None:
    client = await make_client()

    response = await client.get("/api/v1/nope")

    await assert_envelope(response, 404, "not_found")


async def test_wrong_method_is_a_405_envelope_that_keeps_allow(make_client: Any) -> None:
    client = await make_client()

    response = await client.delete("/api/v1/health")

    await assert_envelope(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD"}


async def test_a_bug_is_a_generic_500_and_is_logged_with_its_traceback(
    make_client: Any,
) -> None:
    bug = RuntimeError(SECRET_TEXT)
    client = await make_client(setup=with_route("/boom", raising(bug)))

    with capture_logs() as logs:
        response = await client.get("/boom", headers={"X-Request-ID": "bug-1"})
        text = await response.text()

    error = await assert_envelope(response, 500, "internal_error")
    assert "s3cr3t" not in text
    assert "SELECT" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert error["request_id"] == "bug-1"
    logged = [e for e in logs if e["event"] == "unhandled_exception"]
    assert len(logged) == 1
    assert logged[0]["log_level"] == "error"
    assert logged[0]["exc_info"] is bug
    assert logged[0]["request_id"] == "bug-1"
    assert logged[0]["route"] == "/boom"


async def test_a_non_domain_library_error_is_a_500_too(make_client: Any) -> None:
    client = await make_client(setup=with_route("/boom", raising(KeyError("api_key"))))

    with capture_logs():
        response = await client.get("/boom")

    error = await assert_envelope(response, 500, "internal_error")
    assert "api_key" not in error["message"]


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.InvalidInput("bad"), 400, "invalid_request"),
        (errors.NotFound("integration int_1 was not found"), 404, "not_found"),
        (errors.IntegrationExists(), 409, "integration_exists"),
        (errors.Conflict(), 409, "conflict"),
        (errors.Forbidden(), 403, "forbidden"),
        (errors.InvalidSignature(), 401, "invalid_signature"),
        (errors.InvalidCredentials(), 422, "invalid_credentials"),
        (errors.PermissionMissing(), 422, "permission_missing"),
        (errors.PlatformUnavailable(), 502, "platform_unavailable"),
        (errors.PlatformError(), 502, "platform_unavailable"),
        (errors.PlatformRateLimited(), 502, "platform_rate_limited"),
        (errors.RefundExceedsBalance(), 422, "refund_exceeds_balance"),
        (errors.StorageUnavailable(), 503, "storage_unavailable"),
        (errors.CredentialsUnavailable(), 503, "credentials_unavailable"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
async def test_each_domain_error_has_its_status_and_code(
    make_client: Any, exc: Exception, status: int, code: str
) -> None:
    client = await make_client(setup=with_route("/fail", raising(exc)))

    response = await client.get("/fail")

    error = await assert_envelope(response, status, code)
    assert error["message"] == str(exc)


async def test_invalid_input_lists_its_problems(make_client: Any) -> None:
    exc = errors.InvalidInput("The body is not valid.", problems=("$.amount: required",))
    client = await make_client(setup=with_route("/fail", raising(exc)))

    error = await assert_envelope(await client.get("/fail"), 400, "invalid_request")

    assert error["details"] == {"problems": ["$.amount: required"]}


async def test_storage_unavailable_says_when_to_retry(make_client: Any) -> None:
    client = await make_client(setup=with_route("/fail", raising(errors.StorageUnavailable())))

    response = await client.get("/fail")

    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("cls", [errors.StorageUnavailable, errors.CredentialsUnavailable])
async def test_an_outage_never_shows_the_adapter_message(make_client: Any, cls: type) -> None:
    client = await make_client(setup=with_route("/fail", raising(cls(SECRET_TEXT))))

    response = await client.get("/fail")

    assert response.status == 503
    text = await response.text()
    assert "s3cr3t" not in text
    assert "SELECT" not in text
    assert (await response.json())["error"]["message"] == str(cls())


async def test_platform_rate_limited_passes_on_the_platform_wait(make_client: Any) -> None:
    exc = errors.PlatformRateLimited(retry_after=2.5)
    client = await make_client(setup=with_route("/fail", raising(exc)))

    response = await client.get("/fail")

    assert response.headers["Retry-After"] == "3"


async def test_unauthorized_without_a_token_asks_for_a_bearer(make_client: Any) -> None:
    client = await make_client(setup=with_route("/fail", raising(errors.Unauthorized())))

    response = await client.get("/fail")

    await assert_envelope(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_unauthorized_with_a_token_says_it_is_invalid(make_client: Any) -> None:
    client = await make_client(setup=with_route("/fail", raising(errors.Unauthorized())))

    response = await client.get("/fail", headers={"Authorization": "Bearer nope"})

    await assert_envelope(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_an_error_is_answered_through_the_trailing_slash_route_too(
    make_client: Any,
) -> None:
    client = await make_client(setup=with_route("/fail", raising(errors.NotFound())))

    response = await client.get("/fail/")

    await assert_envelope(response, 404, "not_found")


async def test_cancellation_is_not_swallowed() -> None:
    async def cancelled(request: web.Request) -> web.StreamResponse:
        raise asyncio.CancelledError

    request = make_mocked_request("GET", "/")

    with pytest.raises(asyncio.CancelledError):
        await error_envelope_middleware(request, cancelled)


async def test_an_http_exception_below_400_passes_through() -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/elsewhere")

    request = make_mocked_request("GET", "/")

    with pytest.raises(web.HTTPFound):
        await error_envelope_middleware(request, redirect)
