"""ConnectIntegrationOnce: one setup per Idempotency-Key, and no secret in what it remembers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import IdempotencyKeyReused, InvalidCredentials, InvalidInput
from integration_core.idempotency import check_key, fingerprint
from integration_core.ids import TenantId
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryIdempotencyStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.integrations import DisconnectIntegration
from integration_core.use_cases.onboarding import ConnectIntegration
from integration_core.use_cases.setup_idempotency import ConnectIntegrationOnce

ACME = TenantId("acme")
TOKEN = "valid-token-0123456789-SECRETVALUE"


class World:
    def __init__(self) -> None:
        self.clock = FrozenClock(datetime(2026, 6, 1, tzinfo=UTC))
        self.integrations = InMemoryIntegrationStore()
        self.credentials = InMemoryCredentialStore()
        self.idempotency = InMemoryIdempotencyStore()
        self.setups = {
            Channel.TELEGRAM: FakeChannelSetup(
                channel=Channel.TELEGRAM,
                valid_tokens=(TOKEN,),
                token_field="bot_token",
                external_id_field="bot_id",
            )
        }
        self.once = ConnectIntegrationOnce(
            connect=ConnectIntegration(
                integrations=self.integrations,
                credentials=self.credentials,
                setups=self.setups,
                clock=self.clock,
                base_url="https://hooks.example.com",
            ),
            idempotency=self.idempotency,
            credentials=self.credentials,
            clock=self.clock,
        )


async def test_a_webchat_replay_hands_out_the_stored_signing_secret_again() -> None:
    world = World()
    first = await world.once(
        ACME, Channel.WEBCHAT, credentials={}, config={"name": "Shop"}, idempotency_key="k"
    )
    world.clock.advance(timedelta(minutes=1))

    again = await world.once(
        ACME, Channel.WEBCHAT, credentials={}, config={"name": "Shop"}, idempotency_key="k"
    )

    assert again.replayed
    assert not first.replayed
    assert again.connected == first.connected
    assert first.connected.signing_secret is not None
    # The remembered record itself holds no secret: the replay read it from the credentials.
    (record,) = world.idempotency._items.values()
    assert first.connected.signing_secret.reveal() not in repr(record)


async def test_a_replay_after_disconnecting_has_no_signing_secret_left() -> None:
    world = World()
    first = await world.once(ACME, Channel.WEBCHAT, credentials={}, config={}, idempotency_key="k")
    disconnect = DisconnectIntegration(
        integrations=world.integrations, credentials=world.credentials, setups=world.setups
    )
    await disconnect(ACME, first.connected.integration.id)

    again = await world.once(ACME, Channel.WEBCHAT, credentials={}, config={}, idempotency_key="k")

    assert again.replayed
    assert again.connected.integration == first.connected.integration
    assert again.connected.signing_secret is None


async def test_the_record_keeps_no_credential_and_refuses_another_token() -> None:
    world = World()
    body = {"bot_token": Secret(TOKEN)}
    await world.once(
        ACME, Channel.TELEGRAM, credentials=body, config={"bot_id": "42"}, idempotency_key="k"
    )
    (record,) = world.idempotency._items.values()
    assert TOKEN not in repr(record)

    with pytest.raises(IdempotencyKeyReused):
        await world.once(
            ACME,
            Channel.TELEGRAM,
            credentials={"bot_token": Secret(TOKEN + "x")},
            config={"bot_id": "42"},
            idempotency_key="k",
        )


async def test_a_failure_releases_the_key() -> None:
    world = World()
    with pytest.raises(InvalidCredentials):
        await world.once(
            ACME,
            Channel.TELEGRAM,
            credentials={"bot_token": Secret("wrong-token-0123456789")},
            config={"bot_id": "42"},
            idempotency_key="k",
        )

    assert world.idempotency._items == {}


def test_fingerprints_differ_by_every_part_and_hide_secrets() -> None:
    base = fingerprint("s:whatsapp", credentials={"t": Secret("abc")}, fields={"a": "1"})

    assert base == fingerprint("s:whatsapp", credentials={"t": Secret("abc")}, fields={"a": "1"})
    assert base != fingerprint("s:telegram", credentials={"t": Secret("abc")}, fields={"a": "1"})
    assert base != fingerprint("s:whatsapp", credentials={"t": Secret("abd")}, fields={"a": "1"})
    assert base != fingerprint("s:whatsapp", credentials={"t": Secret("abc")}, fields={"a": "2"})
    assert "abc" not in base


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ñ"])
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput):
        check_key(key)


def test_a_printable_key_is_accepted() -> None:
    assert check_key("order-42 / retry #1") == "order-42 / retry #1"
