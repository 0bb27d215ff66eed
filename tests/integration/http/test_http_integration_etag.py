"""``ETag`` on an integration's GET and PATCH, ``If-Match`` on PATCH: 412 on a stale one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.ids import TenantId, new_id
from integration_core.testing import FrozenClock, InMemoryCredentialStore, InMemoryIntegrationStore
from integration_core.use_cases.integrations import GetIntegration, UpdateIntegration

from .conftest import MakeServices

Client = TestClient[web.Request, web.Application]
ROOT = "/api/v1/integrations"


async def test_patch_applies_only_to_the_state_its_if_match_names(
    make_services: MakeServices,
    make_client: Callable[..., Awaitable[Client]],
    clock: FrozenClock,
    token_for: Callable[..., str],
) -> None:
    integrations = InMemoryIntegrationStore()
    stores: dict[str, Any] = {
        "integrations": integrations,
        "credentials": InMemoryCredentialStore(),
    }
    client = await make_client(
        make_services(
            integrations=integrations,
            get_integration=GetIntegration(**stores),
            update_integration=UpdateIntegration(**stores, clock=clock),
        )
    )
    now = clock.now()
    integration = Integration(
        id=new_id("int"),
        tenant_id=TenantId("tenant-1"),
        channel=Channel.TELEGRAM,
        status=IntegrationStatus.ACTIVE,
        external_id="4242",
        config={"bot_username": "etag_bot"},
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    await integrations.add(integration)
    one = f"{ROOT}/{integration.id}"
    auth = {"Authorization": f"Bearer {token_for('integrations:read', 'integrations:write')}"}

    shown = await client.get(one, headers=auth)
    etag = shown.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert (await client.get(one, headers=auth)).headers["ETag"] == etag  # stable

    clock.advance(timedelta(seconds=1))
    changed = await client.patch(
        one, json={"config": {"label": "A"}}, headers={**auth, "If-Match": etag}
    )
    assert changed.status == 200
    newer = changed.headers["ETag"]
    assert newer != etag
    assert (await client.get(one, headers=auth)).headers["ETag"] == newer

    for stale in (etag, f"W/{newer}", '"0000"'):
        refused = await client.patch(
            one, json={"config": {"label": "B"}}, headers={**auth, "If-Match": stale}
        )
        assert refused.status == 412, stale
        assert (await refused.json())["error"]["code"] == "precondition_failed"
    assert (await (await client.get(one, headers=auth)).json())["config"]["label"] == "A"

    listed = await client.patch(
        one, json={"config": {"label": "C"}}, headers={**auth, "If-Match": f'"x", {newer}'}
    )
    assert listed.status == 200
    anything = await client.patch(
        one, json={"status": "disabled"}, headers={**auth, "If-Match": "*"}
    )
    assert anything.status == 200
    unconditional = await client.patch(one, json={"config": {"label": "D"}}, headers=auth)
    assert unconditional.status == 200
    assert (await unconditional.json())["config"]["label"] == "D"
