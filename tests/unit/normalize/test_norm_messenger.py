"""Messenger deliveries become one documented event per messaging item (per mid for receipts)."""

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

PAGE = "108711234567890"
PSID = "6784512367890123"
MILLIS = 1732856000123


@pytest.fixture
def fb(normalized: Run, payloads: Load) -> Case:
    return lambda name: normalized(Channel.MESSENGER, payloads("messenger")[name])


def _message(event: PlatformEvent) -> dict[str, Any]:
    message: dict[str, Any] = event.data["message"]
    return message


def test_text_message(fb: Case) -> None:
    [event] = fb("text")
    mid = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"
    assert event.dedupe_key == mid
    assert event.routing_key == PAGE
    assert event.type is EventType.MESSAGE_RECEIVED
    # Messenger timestamps are epoch milliseconds.
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, 123000, tzinfo=UTC)
    assert event.data == {
        "message": {
            "id": mid,
            "conversation_id": PSID,
            "sender": {"id": PSID},
            "recipient": {"id": PAGE},
            "kind": "text",
            "text": "Hola! Quiero hacer un pedido",
            "attachments": [],
        }
    }


def test_reply_to_mid(fb: Case) -> None:
    [event] = fb("reply")
    assert _message(event)["reply_to"] == {"message_id": "m_ours1"}


def test_quick_reply_is_interactive_and_keeps_its_text(fb: Case) -> None:
    [event] = fb("quick_reply")
    message = _message(event)
    assert message["kind"] == "interactive"
    assert message["text"] == "Rojo"
    assert message["interaction"] == {"title": "Rojo", "payload": "COLOR_RED"}


@pytest.mark.parametrize(
    ("case", "kind", "url"),
    [
        ("image", "image", "https://scontent.xx.fbcdn.net/v/t1.15752-9/img1.jpg"),
        ("audio", "audio", "https://cdn.fbsbx.com/v/t59.3654-21/audioclip.mp4"),
        ("video", "video", "https://video.xx.fbcdn.net/v/t42.3356-2/vid1.mp4"),
        ("file", "document", "https://cdn.fbsbx.com/v/t59.2708-21/presupuesto.pdf"),
    ],
)
def test_attachments_keep_their_url(fb: Case, case: str, kind: str, url: str) -> None:
    [event] = fb(case)
    assert _message(event)["kind"] == kind
    assert _message(event)["attachments"] == [{"kind": kind, "url": url}]


def test_every_attachment_is_kept(fb: Case) -> None:
    [event] = fb("two_images")
    assert [a["url"] for a in _message(event)["attachments"]] == [
        "https://scontent.xx.fbcdn.net/v/a.jpg",
        "https://scontent.xx.fbcdn.net/v/b.jpg",
    ]


def test_sticker_is_an_image_with_a_sticker_id(fb: Case) -> None:
    [event] = fb("sticker")
    assert _message(event)["kind"] == "sticker"
    assert _message(event)["attachments"] == [
        {
            "kind": "sticker",
            "media_id": "369239263222822",
            "url": "https://scontent.xx.fbcdn.net/v/t39.1997-6/sticker.png",
        }
    ]


def test_shared_link_is_a_link(fb: Case) -> None:
    [alone] = fb("fallback_link")
    assert _message(alone)["kind"] == "unsupported"
    assert _message(alone)["unsupported_type"] == "fallback"
    assert _message(alone)["link"] == {
        "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com%2Fp%2F1",
        "title": "Zapatillas Urbanas",
    }
    [with_text] = fb("fallback_with_text")
    assert _message(with_text)["kind"] == "text"
    assert _message(with_text)["link"]["url"] == "https://shop.example.com/p/1"


def test_location_attachment(fb: Case) -> None:
    [event] = fb("location")
    assert _message(event)["kind"] == "location"
    assert _message(event)["location"]["latitude"] == -34.6037
    assert _message(event)["location"]["longitude"] == -58.3816


def test_template_attachment_is_unsupported(fb: Case) -> None:
    [event] = fb("template_attachment")
    assert _message(event)["kind"] == "unsupported"
    assert _message(event)["unsupported_type"] == "template"


def test_postback_is_interactive(fb: Case) -> None:
    [event] = fb("postback")
    assert event.dedupe_key == "m_pb1"
    assert _message(event)["id"] == "m_pb1"
    assert _message(event)["kind"] == "interactive"
    assert _message(event)["interaction"] == {"title": "Ver catálogo", "payload": "SHOW_CATALOG"}


def test_postback_without_mid_is_keyed_by_sender_time_and_payload(fb: Case) -> None:
    [event] = fb("postback_without_mid")
    assert event.dedupe_key == f"{PSID}:{MILLIS}:GET_STARTED"
    assert _message(event)["id"] == event.dedupe_key


def test_reactions(fb: Case) -> None:
    [react] = fb("reaction")
    assert react.dedupe_key == f"reaction:{PSID}:m_ours1:react:{MILLIS}"
    assert _message(react)["kind"] == "reaction"
    assert _message(react)["reaction"] == {"message_id": "m_ours1", "emoji": "\u2764\ufe0f"}
    [unreact] = fb("unreaction")
    assert unreact.dedupe_key == f"reaction:{PSID}:m_ours1:unreact:{MILLIS + 1000}"
    assert _message(unreact)["reaction"] == {"message_id": "m_ours1", "emoji": ""}


def test_message_edit_is_message_edited_with_its_own_key(fb: Case) -> None:
    [original] = fb("text")
    [edit] = fb("message_edit")
    assert edit.type is EventType.MESSAGE_EDITED
    # The edit repeats the original mid: it must not look like a redelivery of the message.
    assert edit.dedupe_key != original.dedupe_key
    assert edit.dedupe_key == f"edit:{_message(original)['id']}:1"
    assert _message(edit)["id"] == _message(original)["id"]
    assert _message(edit)["text"] == "Hola! Quiero hacer dos pedidos"


def test_delivery_gives_one_status_per_mid(fb: Case) -> None:
    events = fb("delivery")
    assert [e.dedupe_key for e in events] == [
        f"delivery:{PSID}:m_ours1",
        f"delivery:{PSID}:m_ours2",
    ]
    assert [e.data["status"] for e in events] == [
        {"message_id": "m_ours1", "state": "delivered", "recipient_id": PSID},
        {"message_id": "m_ours2", "state": "delivered", "recipient_id": PSID},
    ]
    assert {e.type for e in events} == {EventType.MESSAGE_STATUS}


def test_watermark_receipts_carry_the_watermark(fb: Case) -> None:
    [read] = fb("read")
    assert read.dedupe_key == f"read:{PSID}:{MILLIS - 1000}"
    assert read.data == {
        "status": {"state": "read", "recipient_id": PSID, "watermark": "2024-11-29T04:53:19.123Z"}
    }
    [delivered] = fb("delivery_watermark_only")
    assert delivered.data["status"]["state"] == "delivered"
    assert delivered.data["status"]["watermark"] == "2024-11-29T04:53:15.123Z"


def test_other_events_are_platform_events_named_by_their_webhook_field(
    fb: Case, payloads: Load
) -> None:
    [event] = fb("referral")
    assert event.type is EventType.PLATFORM_EVENT
    assert event.dedupe_key == f"referral:{PSID}:{MILLIS}"
    assert event.routing_key == PAGE
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, 123000, tzinfo=UTC)
    [item] = payloads("messenger")["referral"]["entry"][0]["messaging"]
    assert event.data == {"kind": "messaging_referrals", "payload": item}


def test_echo_is_message_sent_to_the_person(fb: Case) -> None:
    [event] = fb("echo")
    assert event.type is EventType.MESSAGE_SENT
    assert event.dedupe_key == "m_echo1"
    assert event.routing_key == PAGE
    assert event.data == {
        "message": {
            "id": "m_echo1",
            "conversation_id": PSID,
            "sender": {"id": PAGE},
            "recipient": {"id": PSID},
            "kind": "text",
            "text": "Gracias por escribirnos",
            "attachments": [],
        }
    }


def test_standby_message_is_received_marked_standby(fb: Case) -> None:
    [event] = fb("standby")
    assert event.type is EventType.MESSAGE_RECEIVED
    assert event.dedupe_key == "m_standby1"
    assert event.routing_key == PAGE
    assert event.data["standby"] is True
    assert event.data["message"]["text"] == "hola"
    assert event.data["message"]["conversation_id"] == PSID


def test_batch_splits_every_entry_and_item(fb: Case) -> None:
    events = fb("batch")
    assert [e.dedupe_key for e in events] == [
        "m_b1",
        "m_b2",
        "m_b3",
        "delivery:7000000000000001:m_o1",
    ]
    assert [e.routing_key for e in events] == [PAGE, PAGE, "108711234567891", "108711234567891"]


def test_every_fixture_is_normalized_with_unique_keys(normalized: Run, payloads: Load) -> None:
    for name, payload in payloads("messenger").items():
        keys = [e.dedupe_key for e in normalized(Channel.MESSENGER, payload)]
        assert len(keys) == len(set(keys)), name


def test_items_without_identity_are_platform_events(normalized: Run) -> None:
    items: list[dict[str, Any]] = [
        {"message": {"text": "who?"}},
        {"read": {"watermark": 1}},
        {"sender": {"id": PSID}, "timestamp": MILLIS, "delivery": {}},
        {"sender": {"id": PSID}},
    ]
    payload = {"object": "page", "entry": [{"id": PAGE, "messaging": items}]}
    events = normalized(Channel.MESSENGER, payload)
    assert {e.type for e in events} == {EventType.PLATFORM_EVENT}
    assert [e.data for e in events] == [
        {"kind": "messages", "payload": items[0]},
        {"kind": "message_reads", "payload": items[1]},
        {"kind": "message_deliveries", "payload": items[2]},
        {"kind": "messaging", "payload": items[3]},
    ]
    assert events[2].dedupe_key == f"delivery:{PSID}:{MILLIS}"
    # Without sender or time, the item itself identifies it: the same item, the same key.
    again = normalized(Channel.MESSENGER, payload)
    assert [e.dedupe_key for e in again] == [e.dedupe_key for e in events]
    assert len({e.dedupe_key for e in events}) == 4


@pytest.mark.parametrize("payload", [None, 1.5, ["page"], {"object": "instagram", "entry": []}])
def test_not_a_messenger_delivery_gives_nothing(normalized: Run, payload: object) -> None:
    assert normalized(Channel.MESSENGER, payload) == []
