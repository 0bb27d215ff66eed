"""Tawk.to webhooks become conversation, ticket or unsupported message events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from integration_core.channels import Channel
from integration_core.events import EventType
from integration_core.normalize import PlatformEvent

Run = Callable[..., list[PlatformEvent]]
Load = Callable[[str], Mapping[str, Any]]

PROPERTY = "58ca8453b8a7e060cd3b1ecb"
CHAT = "70fe3290-99ad-11e9-a30a-51567162179f"
HOOK = {"x-hook-event-id": "f8b2e1c0-4c1d-4a57-9d0e-7a1b2c3d4e5f"}
VISITOR = {"name": "Lucía", "email": "lucia@example.com", "city": "Buenos Aires", "country": "AR"}


@pytest.fixture
def tawk(normalized: Run, payloads: Load) -> Callable[..., list[PlatformEvent]]:
    def run(name: str, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
        return normalized(Channel.TAWKTO, payloads("tawkto")[name], headers)

    return run


def test_chat_start_is_conversation_started(tawk: Callable[..., list[PlatformEvent]]) -> None:
    [event] = tawk("chat_start", HOOK)
    assert event.type is EventType.CONVERSATION_STARTED
    assert event.dedupe_key == HOOK["x-hook-event-id"]
    assert event.routing_key == PROPERTY
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, 123000, tzinfo=UTC)
    assert event.data == {
        "conversation": {
            "id": CHAT,
            "visitor": VISITOR,
            "message": {
                "text": "Hola, necesito ayuda con mi pedido",
                "type": "msg",
                "sender_type": "visitor",
            },
        }
    }


def test_without_the_header_the_key_is_chat_and_event(
    tawk: Callable[..., list[PlatformEvent]],
) -> None:
    [start] = tawk("chat_start")
    [end] = tawk("chat_end")
    assert start.dedupe_key == f"{CHAT}:chat:start"
    assert end.dedupe_key == f"{CHAT}:chat:end"


def test_chat_end_is_conversation_ended(tawk: Callable[..., list[PlatformEvent]]) -> None:
    [event] = tawk("chat_end", HOOK)
    assert event.type is EventType.CONVERSATION_ENDED
    assert event.data == {"conversation": {"id": CHAT, "visitor": VISITOR}}


def test_transcript_is_conversation_ended_with_the_transcript(
    tawk: Callable[..., list[PlatformEvent]],
) -> None:
    [event] = tawk("transcript")
    assert event.type is EventType.CONVERSATION_ENDED
    assert event.dedupe_key == f"{CHAT}:chat:transcript_created"
    conversation = event.data["conversation"]
    assert conversation["id"] == CHAT
    assert conversation["visitor"] == VISITOR
    assert conversation["transcript"] == [
        {
            "text": "Lucía se unió al chat",
            "type": "msg",
            "sender_type": "system",
            "time": "2024-11-29T04:53:19.000Z",
        },
        {
            "text": "Hola, necesito ayuda con mi pedido",
            "type": "msg",
            "sender_type": "visitor",
            "sender_name": "Lucía",
            "time": "2024-11-29T04:53:20.123Z",
        },
        {
            "text": "¡Hola Lucía! ¿Cuál es el número?",
            "type": "msg",
            "sender_type": "agent",
            "sender_name": "Carla",
            "time": "2024-11-29T04:54:02.000Z",
        },
        {
            "text": "https://tawk.link/file/comprobante.pdf",
            "type": "file",
            "sender_type": "visitor",
            "sender_name": "Lucía",
        },
    ]


def test_ticket_create_is_ticket_created(tawk: Callable[..., list[PlatformEvent]]) -> None:
    [event] = tawk("ticket_create")
    assert event.type is EventType.TICKET_CREATED
    assert event.dedupe_key == "6d5a1e40-a4d2-11ec-9d54-b17f6a4bd6ee"
    assert event.data == {
        "ticket": {
            "id": "6d5a1e40-a4d2-11ec-9d54-b17f6a4bd6ee",
            "human_id": "1042",
            "subject": "Cambio de talle",
            "message": "Quiero cambiar la talla M por L.",
            "requester": {"name": "Martín", "email": "martin@example.com", "type": "visitor"},
        }
    }
    [with_header] = tawk("ticket_create", HOOK)
    assert with_header.dedupe_key == HOOK["x-hook-event-id"]


def test_unknown_event_is_a_platform_event(
    tawk: Callable[..., list[PlatformEvent]], payloads: Load
) -> None:
    [event] = tawk("unknown_event", HOOK)
    assert event.type is EventType.PLATFORM_EVENT
    assert event.dedupe_key == HOOK["x-hook-event-id"]
    assert event.routing_key == PROPERTY
    assert event.data == {"kind": "chat:rated", "payload": payloads("tawkto")["unknown_event"]}
    [without_header] = tawk("unknown_event")
    assert without_header.dedupe_key == f"{CHAT}:chat:rated"


def test_naive_time_is_utc(normalized: Run) -> None:
    payload = {"event": "chat:end", "chatId": "c1", "time": "2024-11-29T04:53:20"}
    [event] = normalized(Channel.TAWKTO, payload)
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, tzinfo=UTC)
    assert event.routing_key is None


@pytest.mark.parametrize("payload", [None, [], "chat:start", {}])
def test_not_a_webhook_gives_nothing(normalized: Run, payload: object) -> None:
    assert normalized(Channel.TAWKTO, payload) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"event": "chat:start"},
        {"event": "ticket:create", "ticket": {}, "property": {"id": PROPERTY}},
        {"event": "chat:end", "property": {"id": PROPERTY}},
    ],
)
def test_events_missing_their_ids_are_platform_events(
    normalized: Run, payload: dict[str, Any]
) -> None:
    [event] = normalized(Channel.TAWKTO, payload)
    assert event.type is EventType.PLATFORM_EVENT
    assert event.data == {"kind": payload["event"], "payload": payload}
    assert event.dedupe_key.startswith(f"{payload['event']}:")
    [again] = normalized(Channel.TAWKTO, payload)
    assert again.dedupe_key == event.dedupe_key
