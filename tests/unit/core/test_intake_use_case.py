"""Intake: verify first with secrets known in advance, spool, then split: route each item,
store once, record what nobody vouched for as ignored, never forward it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import InvalidSignature, MalformedPayload, StorageUnavailable
from integration_core.events import DeliveryStatus
from integration_core.ids import TenantId
from integration_core.own_secrets import OwnSecrets
from integration_core.signatures import (
    MetaWebhookVerifier,
    StandardWebhooksVerifier,
    TawkToWebhookVerifier,
    TelegramWebhookVerifier,
    meta,
    standard_webhooks,
    tawkto,
)
from integration_core.testing import (
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventInbox,
    InMemoryEventStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.intake import ReceiveWebhook
from integration_core.use_cases.splitting import SplitDeliveries, SplitOutcome
from integration_core.webhooks import WebhookRequest, routing_secret_token

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
APP_SECRET = Secret("platform-app-secret")
WEBCHAT_KEY = "whsec_" + base64.b64encode(b"w" * 32).decode()


def _integration(n: int, channel: Channel, external_id: str, **kw: object) -> Integration:
    base = Integration(
        id=f"int_{n:026d}",
        tenant_id=TenantId(f"tenant-{n}"),
        channel=channel,
        status=IntegrationStatus.ACTIVE,
        external_id=external_id,
        created_at=AT,
        updated_at=AT,
        status_changed_at=AT,
    )
    return attrs.evolve(base, **kw)


def _whatsapp(*messages: tuple[str, str]) -> bytes:
    """A delivery with one change per (phone_number_id, wamid)."""
    changes = [
        {
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone},
                "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5491100000000"}],
                "messages": [
                    {
                        "from": "5491100000000",
                        "id": wamid,
                        "timestamp": "1767225600",
                        "type": "text",
                        "text": {"body": "hola \u00e9"},
                    }
                ],
            },
        }
        for phone, wamid in messages
    ]
    document = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba", "changes": changes}],
    }
    return json.dumps(document).encode()


class World:
    """The intake over fakes, with one WhatsApp, one Telegram and one webchat integration."""

    def __init__(self, *, platform_secrets: bool = True) -> None:
        self.clock = FrozenClock(AT)
        self.integrations = InMemoryIntegrationStore()
        self.events = InMemoryEventStore()
        self.credentials = InMemoryCredentialStore()
        self.inbox = InMemoryEventInbox(self.events)
        self.own = OwnSecrets(
            find=self.integrations.find, credentials=self.credentials, clock=self.clock
        )
        self.accept = ReceiveWebhook(
            inbox=self.inbox,
            own_secrets=self.own,
            clock=self.clock,
            verifiers={
                Channel.WHATSAPP: MetaWebhookVerifier(),
                Channel.TELEGRAM: TelegramWebhookVerifier(),
                Channel.WEBCHAT: StandardWebhooksVerifier(clock=self.clock),
            },
            secrets={Channel.WHATSAPP: (APP_SECRET,)} if platform_secrets else {},
        )
        self.splitter = SplitDeliveries(
            inbox=self.inbox, directory=self.integrations, own_secrets=self.own, clock=self.clock
        )

    async def intake(
        self,
        channel: Channel,
        request: WebhookRequest,
        *,
        integration_id: str | None = None,
        admit: Any = None,
    ) -> SplitOutcome:
        """Accept a delivery as the request does, then split it as the worker does."""
        await self.accept(channel, request, integration_id=integration_id, admit=admit)
        report = await self.splitter.run_once()
        assert report.claimed == 1
        (outcome,) = report.outcomes
        return outcome

    async def add(self, integration: Integration, secret: tuple[str, str] | None = None) -> None:
        await self.integrations.add(integration)
        if secret is not None:
            ref = CredentialRef(
                tenant_id=integration.tenant_id, integration_id=integration.id, name=secret[0]
            )
            await self.credentials.put(ref, Secret(secret[1]))

    async def pending(self, integration: Integration) -> list[DeliveryStatus]:
        page = await self.events.list(integration.tenant_id)
        return [e.status for e in page.items]


def _signed(body: bytes, secret: Secret = APP_SECRET) -> WebhookRequest:
    return WebhookRequest(body=body, headers={"X-Hub-Signature-256": meta.sign(secret, body)})


async def test_batch_is_split_stored_once_and_repeats_are_duplicates() -> None:
    world = World()
    owner = _integration(1, Channel.WHATSAPP, "111")
    await world.add(owner)
    body = _whatsapp(("111", "wamid.A"), ("111", "wamid.B"))
    first = await world.intake(Channel.WHATSAPP, _signed(body))
    assert (first.stored, first.duplicates, first.ignored) == (2, 0, 0)
    again = await world.intake(Channel.WHATSAPP, _signed(body))
    assert (again.stored, again.duplicates) == (0, 2)
    page = await world.events.list(owner.tenant_id)
    assert {e.dedupe_key for e in page.items} == {"111:wamid.A", "111:wamid.B"}
    assert all(e.status is DeliveryStatus.PENDING for e in page.items)
    assert all(e.next_attempt_at == AT for e in page.items)
    stored = page.items[0]
    assert stored.data["message"]["text"] == "hola \u00e9"
    assert stored.inbound_id is not None
    inbound = await world.events.get_inbound(stored.inbound_id)
    assert inbound.body == body
    assert "x-hub-signature-256" in inbound.headers


async def test_bad_or_missing_signature_stores_nothing() -> None:
    world = World()
    await world.add(_integration(1, Channel.WHATSAPP, "111"))
    body = _whatsapp(("111", "wamid.A"))
    with pytest.raises(InvalidSignature):
        await world.intake(Channel.WHATSAPP, _signed(body, Secret("wrong")))
    with pytest.raises(InvalidSignature):
        await world.intake(Channel.WHATSAPP, WebhookRequest(body=body))
    assert (await world.events.stats()).pending == 0


async def test_without_any_secret_everything_is_rejected() -> None:
    world = World(platform_secrets=False)
    await world.add(_integration(1, Channel.WHATSAPP, "111"))
    with pytest.raises(InvalidSignature):
        await world.intake(Channel.WHATSAPP, _signed(_whatsapp(("111", "wamid.A"))))


async def test_an_integrations_own_secret_speaks_only_for_it() -> None:
    world = World(platform_secrets=False)
    mine = _integration(1, Channel.WHATSAPP, "111")
    theirs = _integration(2, Channel.WHATSAPP, "222")
    await world.add(mine, ("app_secret", "mine-secret"))
    await world.add(theirs, ("app_secret", "their-secret"))
    body = _whatsapp(("111", "wamid.A"), ("222", "wamid.B"))
    signed = _signed(body, Secret("mine-secret"))
    with pytest.raises(InvalidSignature):  # a shared route knows only platform-wide secrets
        await world.accept(Channel.WHATSAPP, signed)
    result = await world.intake(Channel.WHATSAPP, signed, integration_id=mine.id)
    # The other item is kept and counted, attributed to nobody, never forwarded; it is ignored
    # (someone owns it), not unroutable.
    assert (result.stored, result.ignored, result.unroutable) == (2, 1, 0)
    assert len((await world.events.list(mine.tenant_id)).items) == 1
    assert (await world.events.list(theirs.tenant_id)).items == ()
    assert (await world.events.stats()).pending == 1


async def test_integrations_sharing_one_app_secret_each_get_their_items() -> None:
    world = World(platform_secrets=False)
    first = _integration(1, Channel.WHATSAPP, "111")
    second = _integration(2, Channel.WHATSAPP, "222")
    stranger = _integration(3, Channel.WHATSAPP, "333")
    await world.add(first, ("app_secret", "one-app"))
    await world.add(second, ("app_secret", "one-app"))
    await world.add(stranger)  # no secret of its own: the shared app does not speak for it
    body = _whatsapp(("111", "wamid.A"), ("222", "wamid.B"), ("333", "wamid.C"))
    result = await world.intake(
        Channel.WHATSAPP, _signed(body, Secret("one-app")), integration_id=first.id
    )
    assert (result.stored, result.ignored) == (3, 1)
    assert [e.dedupe_key for e in (await world.events.list(first.tenant_id)).items] == [
        "111:wamid.A"
    ]
    assert [e.dedupe_key for e in (await world.events.list(second.tenant_id)).items] == [
        "222:wamid.B"
    ]
    assert (await world.events.list(stranger.tenant_id)).items == ()


async def test_a_path_integrations_route_refuses_another_integrations_secret() -> None:
    world = World(platform_secrets=False)
    mine = _integration(1, Channel.WHATSAPP, "111")
    theirs = _integration(2, Channel.WHATSAPP, "222")
    await world.add(mine, ("app_secret", "mine-secret"))
    await world.add(theirs, ("app_secret", "their-secret"))
    body = _whatsapp(("222", "wamid.B"))
    with pytest.raises(InvalidSignature):
        await world.accept(
            Channel.WHATSAPP, _signed(body, Secret("their-secret")), integration_id=mine.id
        )


@pytest.mark.parametrize(
    "body",
    [b"[" * 5000 + b"]" * 5000, b"\xff\xfe", b'{"a": 1} {"b": 2}', b"{"],
    ids=["deeply-nested", "not-utf8", "two-documents", "truncated"],
)
async def test_verified_bodies_that_are_not_json_are_malformed(body: bytes) -> None:
    world = World()
    with pytest.raises(MalformedPayload):
        await world.accept(Channel.WHATSAPP, _signed(body))
    assert (await world.inbox.spool_stats()).pending == 0


async def test_lone_surrogates_and_nul_characters_are_stored_not_refused() -> None:
    world = World()
    owner = _integration(1, Channel.WHATSAPP, "111")
    await world.add(owner)
    body = _whatsapp(("111", "wamid.\u0000x"), ("111", "wamid.Y")).replace(
        b"hola \\u00e9", b"hola \\ud83d"
    )
    result = await world.intake(Channel.WHATSAPP, _signed(body))
    assert result.stored == 2
    keys = sorted(e.dedupe_key for e in (await world.events.list(owner.tenant_id)).items)
    assert keys == ["111:wamid.Y", "111:wamid.\\u0000x"], "NUL escaped for the database"


async def test_an_unverified_request_reads_no_integration_and_no_credential() -> None:
    world = World()
    await world.add(_integration(1, Channel.WHATSAPP, "111"))
    reads: list[str] = []
    original_lookup, original_get = world.own.lookup, world.credentials.get

    async def lookup(integration_id: str) -> Any:
        reads.append(integration_id)
        return await original_lookup(integration_id)

    async def get(ref: CredentialRef) -> Any:
        reads.append(ref.name)
        return await original_get(ref)

    world.own.lookup = lookup  # type: ignore[method-assign]
    world.credentials.get = get  # type: ignore[method-assign]
    body = json.dumps({"entry": [{"id": str(n)} for n in range(5000)]}).encode()
    with pytest.raises(InvalidSignature):
        await world.accept(Channel.WHATSAPP, _signed(body, Secret("forged")))
    assert reads == []
    assert (await world.inbox.spool_stats()).pending == 0


async def test_unroutable_and_disabled_events_are_stored_but_ignored() -> None:
    world = World()
    disabled = _integration(1, Channel.WHATSAPP, "111", status=IntegrationStatus.DISABLED)
    expired = _integration(2, Channel.WHATSAPP, "222", status=IntegrationStatus.EXPIRED)
    await world.add(disabled)
    await world.add(expired)
    body = _whatsapp(("111", "wamid.A"), ("222", "wamid.B"), ("999", "wamid.C"))
    result = await world.intake(Channel.WHATSAPP, _signed(body))
    assert (result.stored, result.ignored, result.unroutable) == (3, 2, 1)
    assert await world.pending(disabled) == [DeliveryStatus.IGNORED]
    assert await world.pending(expired) == [DeliveryStatus.PENDING], "expired still receives"
    assert (await world.events.stats()).pending == 1


async def test_verified_body_that_is_not_json_is_malformed() -> None:
    world = World()
    with pytest.raises(MalformedPayload):
        await world.accept(Channel.WHATSAPP, _signed(b"{not json"))


async def test_telegram_routes_by_the_token_and_fills_the_recipient() -> None:
    world = World()
    bot = _integration(3, Channel.TELEGRAM, "7000001")
    token = routing_secret_token(bot.id, "r4nd0m")
    await world.add(bot, ("webhook_secret_token", token))
    update = {
        "update_id": 10,
        "message": {
            "message_id": 5,
            "date": 1767225600,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
            "text": "hi",
        },
    }
    body = json.dumps(update).encode()
    request = WebhookRequest(body=body, headers={"X-Telegram-Bot-Api-Secret-Token": token})
    assert (await world.intake(Channel.TELEGRAM, request)).stored == 1
    # The same update through the per-integration path is a duplicate, not a second event.
    again = await world.intake(Channel.TELEGRAM, request, integration_id=bot.id)
    assert again.duplicates == 1
    (event,) = (await world.events.list(bot.tenant_id)).items
    assert event.dedupe_key == "7000001:10"
    assert event.data["message"]["recipient"]["id"] == "7000001"
    wrong = WebhookRequest(body=body, headers={"X-Telegram-Bot-Api-Secret-Token": bot.id + "-x"})
    with pytest.raises(InvalidSignature):
        await world.accept(Channel.TELEGRAM, wrong)
    # Another bot's token never opens this bot's route: the path is authoritative.
    other = _integration(5, Channel.TELEGRAM, "7000002")
    await world.add(other, ("webhook_secret_token", routing_secret_token(other.id, "x")))
    with pytest.raises(InvalidSignature):
        await world.accept(Channel.TELEGRAM, request, integration_id=other.id)


async def test_webchat_verifies_its_signing_secret_on_its_route() -> None:
    world = World()
    chat = _integration(4, Channel.WEBCHAT, "widget-1")
    await world.add(chat, ("signing_secret", WEBCHAT_KEY))
    body = json.dumps(
        {
            "integration_id": chat.id,
            "conversation_id": "c1",
            "sender": {"id": "visitor-1"},
            "message": {"id": "m1", "text": "hello"},
        }
    ).encode()
    headers = standard_webhooks.headers(Secret(WEBCHAT_KEY), "msg_1", int(AT.timestamp()), body)
    request = WebhookRequest(body=body, headers=headers)
    with pytest.raises(InvalidSignature):  # its own secret is checked on its own route only
        await world.accept(Channel.WEBCHAT, request)
    result = await world.intake(Channel.WEBCHAT, request, integration_id=chat.id)
    assert result.stored == 1
    late = standard_webhooks.headers(Secret(WEBCHAT_KEY), "msg_2", int(AT.timestamp()) - 3600, body)
    with pytest.raises(InvalidSignature):
        await world.accept(
            Channel.WEBCHAT, WebhookRequest(body=body, headers=late), integration_id=chat.id
        )


async def test_storage_down_raises_and_nothing_is_half_stored() -> None:
    world = World()
    await world.add(_integration(1, Channel.WHATSAPP, "111"))
    world.events.available = False
    with pytest.raises(StorageUnavailable):
        await world.accept(Channel.WHATSAPP, _signed(_whatsapp(("111", "wamid.A"))))
    world.events.available = True
    assert (await world.events.stats()).pending == 0


class Refused(Exception):
    """What a test's *admit* raises to refuse a delivery."""


async def test_admit_runs_only_for_verified_deliveries_and_can_refuse_them() -> None:
    world = World()
    await world.add(_integration(1, Channel.WHATSAPP, "111"))
    body = _whatsapp(("111", "wamid.A"))
    admitted: list[bytes] = []

    async def admit(vouched_by: str | None) -> None:
        assert vouched_by is None, "the platform-wide secret vouched"
        admitted.append(body)
        raise Refused

    with pytest.raises(InvalidSignature):
        await world.accept(Channel.WHATSAPP, _signed(body, Secret("wrong")), admit=admit)
    assert admitted == [], "an unverified delivery never reaches admit"
    with pytest.raises(Refused):
        await world.accept(Channel.WHATSAPP, _signed(body), admit=admit)
    assert admitted == [body]
    assert (await world.events.stats()).pending == 0, "a refused delivery stores nothing"


@pytest.mark.parametrize(
    ("mark", "receives"),
    [(None, True), ("true", True), ("false", False), ("superseded", False)],
    ids=["set-up-before-claims", "proven", "unproven", "superseded"],
)
async def test_platform_wide_tawkto_deliveries_reach_only_proven_claims(
    mark: str | None, receives: bool
) -> None:
    world = World()
    world.accept = ReceiveWebhook(
        inbox=world.inbox,
        own_secrets=world.own,
        clock=world.clock,
        verifiers={Channel.TAWKTO: TawkToWebhookVerifier()},
        secrets={Channel.TAWKTO: (Secret("operator-tawk-secret"),)},
    )
    config = {} if mark is None else {"property_verified": mark}
    claim = _integration(6, Channel.TAWKTO, "prop-1", config=config)
    await world.add(claim, ("webhook_secret", "tenant-own-secret"))
    body = json.dumps(
        {
            "event": "chat:start",
            "chatId": "c-1",
            "time": "2026-06-01T12:00:00Z",
            "property": {"id": "prop-1"},
            "visitor": {"name": "Ana"},
        }
    ).encode()
    headers = {tawkto.HEADER: tawkto.sign(Secret("operator-tawk-secret"), body)}

    result = await world.intake(Channel.TAWKTO, WebhookRequest(body=body, headers=headers))

    assert result.stored == 1
    assert len((await world.events.list(claim.tenant_id)).items) == int(receives)
