"""Telegram updates become one documented event each, keyed by update_id."""

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
Case = Callable[[str], list[PlatformEvent]]

USER = "123456789"
SENT = datetime(2024, 11, 29, 4, 53, 20, tzinfo=UTC)


@pytest.fixture
def tg(normalized: Run, payloads: Load) -> Case:
    return lambda name: normalized(Channel.TELEGRAM, payloads("telegram")[name])


def _message(event: PlatformEvent) -> dict[str, Any]:
    message: dict[str, Any] = event.data["message"]
    return message


def test_text_message(tg: Case) -> None:
    [event] = tg("text")
    assert event.dedupe_key == "871234001"
    assert event.type is EventType.MESSAGE_RECEIVED
    assert event.routing_key is None
    assert event.occurred_at == SENT
    assert event.data == {
        "message": {
            "id": "1001",
            "conversation_id": USER,
            "sender": {"id": USER, "name": "Lucía Fernández"},
            "recipient": {"id": ""},
            "kind": "text",
            "text": "Hola, ¿a qué hora abren?",
            "attachments": [],
        }
    }


def test_reply_to_message(tg: Case) -> None:
    [event] = tg("reply")
    assert _message(event)["reply_to"] == {"message_id": "990"}


def test_photo_uses_the_largest_size_and_the_caption(tg: Case) -> None:
    [event] = tg("photo")
    assert _message(event)["kind"] == "image"
    assert _message(event)["attachments"] == [
        {"kind": "image", "media_id": "AgACAgEAAxkBAAIBY2Large", "caption": "¿Tienen este?"}
    ]


@pytest.mark.parametrize(
    ("case", "attachment"),
    [
        (
            "audio",
            {"kind": "audio", "media_id": "CQACAgEAAxkBAAIBZGAudio", "mime_type": "audio/mpeg"},
        ),
        (
            "voice",
            {"kind": "audio", "media_id": "AwACAgEAAxkBAAIBZVoice", "mime_type": "audio/ogg"},
        ),
        (
            "video",
            {
                "kind": "video",
                "media_id": "BAACAgEAAxkBAAIBZlVideo",
                "mime_type": "video/mp4",
                "caption": "Así llegó",
            },
        ),
        ("video_note", {"kind": "video", "media_id": "DQACAgEAAxkBAAIBZ2Note"}),
        (
            "animation",
            {"kind": "video", "media_id": "CgACAgQAAxkBAAIBaGif", "mime_type": "video/mp4"},
        ),
        (
            "document",
            {
                "kind": "document",
                "media_id": "BQACAgEAAxkBAAIBaURoc",
                "mime_type": "application/pdf",
                "caption": "Comprobante",
                "filename": "comprobante.pdf",
            },
        ),
        ("sticker", {"kind": "sticker", "media_id": "CAACAgIAAxkBAAIBalSticker"}),
    ],
)
def test_media_is_one_attachment(tg: Case, case: str, attachment: dict[str, str]) -> None:
    [event] = tg(case)
    assert _message(event)["kind"] == attachment["kind"]
    assert _message(event)["attachments"] == [attachment]


def test_location_and_venue(tg: Case) -> None:
    [point] = tg("location")
    assert _message(point)["kind"] == "location"
    assert _message(point)["location"] == {"latitude": -34.603722, "longitude": -58.381592}
    [venue] = tg("venue")
    assert _message(venue)["location"] == {
        "latitude": -34.603722,
        "longitude": -58.381592,
        "name": "Obelisco",
        "address": "Av. 9 de Julio s/n",
    }


def test_contact(tg: Case) -> None:
    [event] = tg("contact")
    assert _message(event)["kind"] == "contacts"
    assert _message(event)["contacts"] == [
        {"name": "Martín Gómez", "phones": [{"phone": "+5491122334455", "user_id": "987654321"}]}
    ]


def test_poll_is_unsupported(tg: Case) -> None:
    [event] = tg("poll")
    assert _message(event)["kind"] == "unsupported"
    assert _message(event)["unsupported_type"] == "poll"


def test_edited_message_keeps_its_id_and_uses_the_edit_date(tg: Case) -> None:
    [event] = tg("edited_message")
    assert event.type is EventType.MESSAGE_EDITED
    assert event.dedupe_key == "871234015"
    assert _message(event)["id"] == "1001"
    assert event.occurred_at == datetime(2024, 11, 29, 4, 54, 5, tzinfo=UTC)


def test_channel_posts_speak_as_the_channel(tg: Case) -> None:
    [post] = tg("channel_post")
    assert post.type is EventType.MESSAGE_RECEIVED
    assert _message(post)["sender"] == {"id": "-1009876543210", "name": "Novedades Tienda"}
    assert _message(post)["conversation_id"] == "-1009876543210"
    [edited] = tg("edited_channel_post")
    assert edited.type is EventType.MESSAGE_EDITED
    assert _message(edited)["text"] == "Nueva colección disponible ya"


def test_group_conversation_is_the_group(tg: Case) -> None:
    [event] = tg("group_message")
    assert _message(event)["conversation_id"] == "-1001234567890"
    assert _message(event)["sender"]["id"] == USER


def test_callback_query_is_interactive(tg: Case) -> None:
    [event] = tg("callback_query")
    message = _message(event)
    assert event.dedupe_key == "871234019"
    assert event.occurred_at is None
    assert message["id"] == "4382bfdwdsb323b2d9"
    assert message["kind"] == "interactive"
    assert message["interaction"] == {"payload": "order:confirm:42"}
    assert message["reply_to"] == {"message_id": "990"}
    assert message["conversation_id"] == USER
    [inline] = tg("callback_query_inline")
    assert _message(inline)["conversation_id"] == USER
    assert "reply_to" not in _message(inline)


def test_reactions(tg: Case) -> None:
    [added] = tg("message_reaction")
    assert _message(added)["kind"] == "reaction"
    assert _message(added)["id"] == "871234021"
    assert _message(added)["reaction"] == {"message_id": "990", "emoji": "\U0001f44d"}
    assert added.occurred_at == datetime(2024, 11, 29, 4, 53, 25, tzinfo=UTC)
    [removed] = tg("message_reaction_removed")
    assert _message(removed)["reaction"] == {"message_id": "990", "emoji": ""}
    [custom] = tg("message_reaction_custom")
    assert _message(custom)["kind"] == "unsupported"
    assert _message(custom)["unsupported_type"] == "message_reaction.custom_emoji"


def test_other_updates_are_platform_events_with_the_whole_update(tg: Case, payloads: Load) -> None:
    [event] = tg("my_chat_member")
    assert event.type is EventType.PLATFORM_EVENT
    assert event.dedupe_key == "871234024"
    assert event.routing_key is None
    assert event.occurred_at == SENT
    assert event.data == {
        "kind": "my_chat_member",
        "payload": payloads("telegram")["my_chat_member"],
    }


def test_updates_without_an_update_id_are_keyed_by_their_content(tg: Case) -> None:
    [event] = tg("no_update_id")
    assert event.type is EventType.PLATFORM_EVENT
    assert event.data["kind"] == "message"
    assert event.dedupe_key.startswith("message:")
    assert tg("no_update_id")[0].dedupe_key == event.dedupe_key
    [bare] = tg("only_update_id")
    assert bare.data["kind"] == "update"
    assert bare.dedupe_key == "871234025"


def test_malformed_update_field_is_a_platform_event(normalized: Run) -> None:
    update = {"update_id": 5, "message": "not an object"}
    [event] = normalized(Channel.TELEGRAM, update)
    assert event.type is EventType.PLATFORM_EVENT
    assert event.dedupe_key == "5"
    assert event.data == {"kind": "message", "payload": update}


@pytest.mark.parametrize("payload", [None, [], "update", {}])
def test_not_an_update_gives_nothing(normalized: Run, payload: object) -> None:
    assert normalized(Channel.TELEGRAM, payload) == []
