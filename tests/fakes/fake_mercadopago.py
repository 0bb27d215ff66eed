"""A fake Mercado Pago API, served for real on 127.0.0.1 (``aiohttp_server(fake.app())``).

It models what PLATFORMS.md section 4 documents and our gateway relies on: bearer tokens (ours,
connected sellers'), Checkout Pro preferences, card payments idempotent on ``X-Idempotency-Key``
and dated on each change (``date_last_updated``), refunds (partial, then total; over-refunds
refused), merchant orders, rotating OAuth refresh
tokens, Mercado Pago's error shape; and controls to fail or delay the next calls, choose a card's
outcome, play the buyer paying a checkout, and read every request.

Notifications: each payment change Mercado Pago would notify is queued in ``outbox`` as a
:class:`Notification`; signing and delivering them is left to the tests that need it
(``integration_core.signatures.mercadopago.sign``, then a POST to its URL).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Doc = dict[str, Any]
_USER = web.RequestKey("user", int)  # the account whose token authorized the request
OURS = "APP_USR-ours-0000000000"
"""Our own access token (``MP_ACCESS_TOKEN``); its account is user 1000."""
CLIENT_ID, CLIENT_SECRET = "app-1", "app-client-secret"
"""Our application's OAuth credentials (``MP_CLIENT_ID``, ``MP_CLIENT_SECRET``)."""

# Fields of a payment request that the payment resource shows as sent.
_ECHOED = "description installments payment_method_id payer external_reference notification_url"
_PAID = {"approved", "refunded"}  # a refunded payment was paid; refunds are counted apart
_GRANT = {"token_type": "bearer", "expires_in": 15552000, "scope": "offline_access payments"}
_LOCAL = timezone(timedelta(hours=-4))  # Mercado Pago writes its dates in local time, -04:00


def dumps(value: Any) -> str:
    """Return *value* as JSON, ``Decimal`` s as exact numbers (as Mercado Pago writes amounts)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def _ok(document: Doc, status: int = 200) -> web.Response:
    return web.Response(status=status, text=dumps(document), content_type="application/json")


def error(status: int, message: str, code: str, *causes: tuple[int, str]) -> web.Response:
    """Return an answer in Mercado Pago's error shape."""
    cause = [{"code": c, "description": d} for c, d in causes]
    return _ok({"message": message, "error": code, "status": status, "cause": cause}, status)


def _number(value: object) -> bool:
    # Amounts must arrive as positive JSON numbers; a string "10.00" is a client bug.
    return isinstance(value, Decimal | int) and not isinstance(value, bool) and value > 0


@attrs.frozen
class RecordedRequest:
    """One request as the fake received it (*path* raw, header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body parsed, non-integer numbers as ``Decimal``."""
        return json.loads(self.body, parse_float=Decimal) if self.body else None


@attrs.frozen(kw_only=True)
class Notification:
    """A notification to POST to *url* (unsigned); *query* has ``data.id``, the signed value."""

    url: str | None
    query: dict[str, str]
    body: Doc


@attrs.define
class _Fault:
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0


class FakeMercadoPago:
    """The fake API's state, test controls and routes; serve it with :meth:`app`."""

    def __init__(self) -> None:
        self.tokens: dict[str, int] = {OURS: 1000}  # access token -> account (collector) id
        self.refresh_tokens: dict[str, int] = {}
        self.requests: list[RecordedRequest] = []
        self.preferences: dict[str, Doc] = {}
        self.payments: dict[str, Doc] = {}
        self.merchant_orders: dict[str, Doc] = {}
        self.outbox: list[Notification] = []
        self.card_outcomes: dict[str, tuple[str, str]] = {}  # card token -> status, detail
        self._replays: dict[tuple[int, str, str], tuple[int, str]] = {}
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)
        self._last_change = datetime.fromtimestamp(0, UTC)

    def app(self) -> web.Application:
        """Return the aiohttp application serving the API."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/checkout/preferences", self._create_preference)
        app.router.add_post("/v1/payments", self._create_payment)
        app.router.add_get("/v1/payments/{id}", self._get_payment)
        app.router.add_post("/v1/payments/{id}/refunds", self._refund)
        app.router.add_get("/merchant_orders/{id}", self._get_merchant_order)
        app.router.add_post("/oauth/token", self._oauth_token)
        app.router.add_get("/users/me", self._users_me)
        return app

    def fail_next(self, count: int = 1, *, status: int = 503, retry_after: str = "") -> None:
        """Answer the next *count* calls with *status* (and ``Retry-After``), doing nothing."""
        self._faults += [_Fault(status=status, retry_after=retry_after) for _ in range(count)]

    def delay_next(self, count: int = 1, *, seconds: float) -> None:
        """Do the next *count* calls, but hold each answer back *seconds* (a client times out)."""
        self._faults += [_Fault(delay=seconds) for _ in range(count)]

    def connect_seller(self, user_id: int) -> tuple[str, str]:
        """Authorize our application for seller *user_id*; return its access and refresh token."""
        return self._issue(user_id)

    def pay_checkout(
        self, preference_id: str, *, status: str = "approved", detail: str = "accredited"
    ) -> str:
        """Play the buyer paying a preference through Checkout Pro; return the payment id."""
        pref = self.preferences[preference_id]
        total = sum((i["unit_price"] * i["quantity"] for i in pref["items"]), Decimal(0))
        order = self._order_for(pref)
        priced = {**pref, "transaction_amount": total}
        payment = self._new_payment(pref["collector_id"], priced, status, detail, order["id"])
        order["payments"].append(payment["id"])
        return str(payment["id"])

    def set_status(self, payment_id: str, status: str, detail: str | None = None) -> None:
        """Change a payment on Mercado Pago's side (approved later, rejected, charged back...)."""
        self.payments[payment_id].update(status=status, status_detail=detail)
        self._touch(self.payments[payment_id])
        self._notify(self.payments[payment_id], "payment.updated")

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Return the recorded requests with *method* and *path*, in order."""
        return [r for r in self.requests if r.method == method and r.path == path]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        body = await request.read()
        self.requests.append(RecordedRequest(request.method, request.raw_path, headers, body))
        fault = self._faults.pop(0) if self._faults else _Fault()
        if fault.status is not None:
            failed = error(fault.status, "injected failure", "fault")
            if fault.retry_after:
                failed.headers["Retry-After"] = fault.retry_after
            return failed
        response = await self._authorized(request, handler)
        await asyncio.sleep(fault.delay)
        return response

    async def _authorized(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/oauth/token":
            return await handler(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            # Worst case on purpose: the message quotes the token, which a client must mask.
            return error(401, f"invalid access token {token}", "unauthorized")
        request[_USER] = self.tokens[token]
        key = request.headers.get("X-Idempotency-Key")
        if request.method != "POST" or key is None:
            return await handler(request)
        replay_key = (request[_USER], request.path, key)
        if (known := self._replays.get(replay_key)) is not None:
            return web.Response(status=known[0], text=known[1], content_type="application/json")
        response = await handler(request)
        if isinstance(response, web.Response) and response.status < 300 and response.text:
            # Only successes are replayed: a refused call may be fixed and sent again.
            self._replays[replay_key] = (response.status, response.text)
        return response

    def _issue(self, user_id: int) -> tuple[str, str]:
        n = next(self._ids)
        access, refresh = f"APP_USR-{user_id}-access-{n:06d}", f"TG-{user_id}-refresh-{n:06d}"
        self.tokens[access], self.refresh_tokens[refresh] = user_id, user_id
        return access, refresh

    def _touch(self, payment: Doc) -> None:
        """Date a change as ``date_last_updated`` does: each later than the last, to the ms."""
        moment = max(datetime.now(UTC), self._last_change + timedelta(milliseconds=1))
        self._last_change = moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        payment["date_last_updated"] = moment.astimezone(_LOCAL).isoformat(timespec="milliseconds")

    def _notify(self, payment: Doc, action: str) -> None:
        data_id, user_id = str(payment["id"]), payment["collector_id"]
        body = {"id": next(self._ids), "live_mode": False, "type": "payment", "user_id": user_id}
        body |= {"api_version": "v1", "action": action, "data": {"id": data_id}}
        query = {"data.id": data_id, "type": "payment"}
        self.outbox.append(Notification(url=payment["notification_url"], query=query, body=body))

    def _visible(self, request: web.Request, table: dict[str, Doc]) -> Doc | None:
        found = table.get(request.match_info["id"])
        return found if found is not None and found["collector_id"] == request[_USER] else None

    async def _create_preference(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read(), parse_float=Decimal)
        items = body.get("items") or []
        if not items or any(not _number(i.get("unit_price")) or not i.get("title") for i in items):
            return error(400, "invalid items", "bad_request", (4020, "unit_price: a number"))
        pref_id = f"{request[_USER]}-pref-{next(self._ids):06d}"
        redirect = f"mercadopago.com/checkout/v1/redirect?pref_id={pref_id}"
        pref = {**body, "id": pref_id, "collector_id": request[_USER], "items": items}
        pref["init_point"] = f"https://www.{redirect}"
        pref["sandbox_init_point"] = f"https://sandbox.{redirect}"
        self.preferences[pref_id] = pref
        return _ok(pref, 201)

    async def _create_payment(self, request: web.Request) -> web.Response:
        if "X-Idempotency-Key" not in request.headers:
            return error(400, "X-Idempotency-Key header is required", "bad_request")
        body = json.loads(await request.read(), parse_float=Decimal)
        if not _number(body.get("transaction_amount")) or not body.get("token"):
            return error(400, "invalid payment", "bad_request", (4037, "transaction_amount"))
        status, detail = self.card_outcomes.get(body["token"], ("approved", "accredited"))
        return _ok(self._new_payment(request[_USER], body, status, detail), 201)

    def _new_payment(self, user: int, body: Doc, status: str, detail: str, order: int = 0) -> Doc:
        payment = {key: body.get(key) for key in _ECHOED.split()}
        payment["id"] = 5_000_000_000 + next(self._ids)
        payment |= {"status": status, "status_detail": detail}
        payment |= {"transaction_amount": Decimal(body["transaction_amount"]), "currency_id": "ARS"}
        payment |= {"transaction_amount_refunded": Decimal(0), "refunds": [], "collector_id": user}
        payment["order"] = {"id": order, "type": "mercadopago"} if order else None
        self._touch(payment)
        payment["date_created"] = payment["date_last_updated"]
        self.payments[str(payment["id"])] = payment
        self._notify(payment, "payment.created")
        return payment

    async def _get_payment(self, request: web.Request) -> web.Response:
        if (payment := self._visible(request, self.payments)) is None:
            return error(404, "Payment not found", "not_found", (2000, "Payment not found"))
        return _ok(payment)

    async def _refund(self, request: web.Request) -> web.Response:
        if (payment := self._visible(request, self.payments)) is None:
            return error(404, "Payment not found", "not_found", (2000, "Payment not found"))
        raw = await request.read()
        body = json.loads(raw, parse_float=Decimal) if raw.strip() else {}
        left = payment["transaction_amount"] - payment["transaction_amount_refunded"]
        amount = body.get("amount", left)
        if payment["status"] != "approved" or not _number(amount) or amount > left:
            why = f"amount {amount} exceeds the {left} left to refund ({payment['status']})"
            return error(400, "Invalid refund amount", "bad_request", (4040, why))
        refund = {"id": 9_000_000 + next(self._ids), "payment_id": payment["id"]}
        refund |= {"amount": Decimal(amount), "status": "approved", "refund_mode": "standard"}
        payment["refunds"].append(refund)
        payment["transaction_amount_refunded"] += amount
        whole = payment["transaction_amount_refunded"] == payment["transaction_amount"]
        payment["status"] = "refunded" if whole else "approved"
        payment["status_detail"] = "refunded" if whole else "partially_refunded"
        self._touch(payment)
        self._notify(payment, "payment.updated")
        return _ok(refund, 201)

    def _order_for(self, pref: Doc) -> Doc:
        for order in self.merchant_orders.values():
            if order["preference_id"] == pref["id"]:
                return order
        order = {"id": 7_000_000 + next(self._ids), "preference_id": pref["id"], "payments": []}
        order |= {key: pref.get(key) for key in ("collector_id", "items", "external_reference")}
        self.merchant_orders[str(order["id"])] = order
        return order

    async def _get_merchant_order(self, request: web.Request) -> web.Response:
        if (order := self._visible(request, self.merchant_orders)) is None:
            return error(404, "Merchant Order not found", "not_found")
        payments = [self.payments[str(i)] for i in order["payments"]]
        total = sum((i["unit_price"] * i["quantity"] for i in order["items"]), Decimal(0))
        paid = sum((p["transaction_amount"] for p in payments if p["status"] in _PAID), Decimal(0))
        refunded = sum((p["transaction_amount_refunded"] for p in payments), Decimal(0))
        fields = ("id", "status", "status_detail", "transaction_amount")
        summary = {"payments": [{k: p[k] for k in fields} for p in payments], "total_amount": total}
        summary |= {"paid_amount": paid, "refunded_amount": refunded}
        state = ("closed", "paid") if paid >= total else ("opened", "payment_required")
        return _ok(order | summary | {"status": state[0], "order_status": state[1]})

    async def _users_me(self, request: web.Request) -> web.Response:
        user = request[_USER]
        return _ok({"id": user, "nickname": f"SELLER{user}", "site_id": "MLA"})

    async def _oauth_token(self, request: web.Request) -> web.Response:
        json_body = request.content_type == "application/json"
        body = json.loads(await request.read()) if json_body else dict(await request.post())
        if (body.get("client_id"), body.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return error(400, "invalid client_id or client_secret", "invalid_client")
        # Popped: a refresh token works once (rotation), so the old one is refused from now on.
        user_id = self.refresh_tokens.pop(str(body.get("refresh_token")), None)
        if body.get("grant_type") != "refresh_token" or user_id is None:
            return error(400, "invalid_grant", "invalid_grant")
        access, refresh = self._issue(user_id)
        return _ok(_GRANT | {"access_token": access, "refresh_token": refresh, "user_id": user_id})
