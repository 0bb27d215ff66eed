"""Token rotation of a Mercado Pago seller account: the OAuth ``refresh_token`` grant, end to end.

Mercado Pago refresh tokens work once: the rotation must store the new refresh token it gets
with each new access token, or the next refresh fails. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ..fakes.fake_mercadopago import CLIENT_ID, CLIENT_SECRET
from .mercadopago_support import WEBHOOK_SECRET, ThreadedMercadoPago
from .rotation_support import (
    StartRotation,
    expires_in_days,
    fakes,
    set_token_expiry,
    start_rotation,
)

__all__ = ["fakes", "start_rotation"]  # fixtures, used by name

SELLER = 2001


@pytest.fixture
def mercadopago() -> Iterator[ThreadedMercadoPago]:
    server = ThreadedMercadoPago().start()
    yield server
    server.shutdown()


def refresh_tokens_of(server: ThreadedMercadoPago, seller: int) -> list[str]:
    """Return the refresh tokens the fake would still accept for *seller* (it is idle now)."""
    return [token for token, user in dict(server.fake.refresh_tokens).items() if user == seller]


def test_a_seller_token_is_refreshed_and_the_new_refresh_token_kept(
    start_rotation: StartRotation,
    run_cli: Callable[..., Any],
    mercadopago: ThreadedMercadoPago,
    database_url: str,
) -> None:
    access, refresh = mercadopago.call("connect_seller", SELLER)
    service = start_rotation(
        TOKEN_ROTATION_INTERVAL="24h",
        MP_API_BASE_URL=mercadopago.url,
        MP_CLIENT_ID=CLIENT_ID,
        MP_CLIENT_SECRET=CLIENT_SECRET,
        MP_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    seller = service.setup("mercadopago", {"access_token": access, "refresh_token": refresh})
    # The seller's token was issued 178 days ago (Mercado Pago's last for 180).
    set_token_expiry(database_url, seller["id"], datetime.now(UTC) + timedelta(days=2))

    done = run_cli("rotate-tokens", **service.env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 integration(s): refreshed 1"
    assert refresh not in refresh_tokens_of(mercadopago, SELLER)  # used up
    (issued,) = refresh_tokens_of(mercadopago, SELLER)
    now = service.integration(seller["id"])
    assert now["status"] == "active"
    assert 179 < expires_in_days(now) < 181
    assert now["secrets_masked"]["refresh_token"].endswith(issued[-4:])
    assert not now["secrets_masked"]["refresh_token"].endswith(refresh[-4:])
    for secret in (access, refresh, issued):
        assert secret not in done.stdout + done.stderr
    # The kept refresh token is the one that works: a manual refresh goes through with it.
    status, body = service.call("POST", f"/api/v1/integrations/{seller['id']}/refresh-token")
    assert status == 200, body
    assert issued not in refresh_tokens_of(mercadopago, SELLER)
