"""Our webchat widget's callbacks become one message.received each."""

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

HOOK = {"webhook-id": "msg_2fGhJkLmNoPq"}


@pytest.fixture
def chat(normalized: Run, payloads: Load) -> Callable[..., list[PlatformEvent]]:
    def run(name: str, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
        return normalized(Channel.WEBCHAT, payloads("webchat")[name], headers)

    return run


def test_text_message(chat: Callable[..., list[PlatformEvent]]) -> None:
    [event] = chat("text", HOOK)
    assert event.dedupe_key == HOOK["webhook-id"]
    assert event.type is EventType.MESSAGE_RECEIVED
    assert event.routing_key is None
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, 123000, tzinfo=UTC)
    assert event.data == {
        "message": {
            "id": "msg_0001",
            "conversation_id": "conv_7f3a9c",
            "sender": {"id": "visitor_42", "name": "Lucía"},
            "recipient": {"id": ""},
            "kind": "text",
            "text": "Hola, ¿hacen envíos?",
            "attachments": [],
        }
    }


def test_without_the_header_the_key_is_the_message_id(
    chat: Callable[..., list[PlatformEvent]],
) -> None:
    [event] = chat("text")
    assert event.dedupe_key == "msg_0001"


def test_attachment_only_takes_the_attachment_kind(
    chat: Callable[..., list[PlatformEvent]],
) -> None:
    [event] = chat("attachment_only")
    assert event.data["message"]["kind"] == "image"
    assert event.data["message"]["attachments"] == [
        {"kind": "image", "url": "https://cdn.example.com/u/1.png", "mime_type": "image/png"}
    ]
    # Epoch seconds are accepted too.
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, tzinfo=UTC)


def test_text_wins_over_attachments(chat: Callable[..., list[PlatformEvent]]) -> None:
    [event] = chat("text_and_attachments")
    assert event.data["message"]["kind"] == "text"
    assert [a["kind"] for a in event.data["message"]["attachments"]] == ["document", "audio"]
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, 123000, tzinfo=UTC)


def test_unknown_attachment_kind_is_a_document_and_urlless_ones_are_dropped(
    chat: Callable[..., list[PlatformEvent]],
) -> None:
    [event] = chat("unknown_attachment_kind")
    assert event.data["message"]["attachments"] == [
        {"kind": "document", "url": "https://cdn.example.com/u/s.xlsx"}
    ]
    assert event.occurred_at is None


def test_empty_message_is_unsupported(chat: Callable[..., list[PlatformEvent]]) -> None:
    [event] = chat("empty")
    assert event.data["message"]["kind"] == "unsupported"
    assert event.data["message"]["unsupported_type"] == "empty"


def test_missing_conversation_falls_back_to_the_sender(normalized: Run) -> None:
    payload = {"sender": {"id": 42}, "message": {"id": 7, "text": "hola"}}
    [event] = normalized(Channel.WEBCHAT, payload)
    assert event.data["message"]["conversation_id"] == "42"
    assert event.data["message"]["id"] == "7"


@pytest.mark.parametrize("payload", [None, "hola", [], {}])
def test_not_a_callback_gives_nothing(normalized: Run, payload: object) -> None:
    assert normalized(Channel.WEBCHAT, payload) == []


@pytest.mark.parametrize("payload", [{"message": {"text": "no id"}}, {"message": "x"}])
def test_bodies_naming_no_message_are_platform_events(
    normalized: Run, payload: dict[str, Any]
) -> None:
    [event] = normalized(Channel.WEBCHAT, payload)
    assert event.type is EventType.PLATFORM_EVENT
    assert event.data == {"kind": "unknown", "payload": payload}
    assert event.routing_key is None
