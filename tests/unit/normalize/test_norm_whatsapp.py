"""WhatsApp Cloud API deliveries become one documented event per message and per status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from integration_core.channels import Channel
from integration_core.events import EventType
from integration_core.normalize import PlatformEvent, RouteBy

Run = Callable[..., list[PlatformEvent]]
Load = Callable[[str], Mapping[str, Any]]

PHONE_NUMBER_ID = "106540352242922"
WA_ID = "5491122334455"


@pytest.fixture
def wa(normalized: Run, payloads: Load) -> Callable[[str], list[PlatformEvent]]:
    return lambda name: normalized(Channel.WHATSAPP, payloads("whatsapp")[name])


def _message(event: PlatformEvent) -> dict[str, Any]:
    message: dict[str, Any] = event.data["message"]
    return message


def test_text_message_is_addressed_from_the_sender(
    wa: Callable[[str], list[PlatformEvent]],
) -> None:
    [event] = wa("text")
    wamid = "wamid.HBgNNTQ5MTEyMjMzNDQ1NRUCABIYFjNFQjBDNkQ0RjE0QTNFNDA5RTUyAA=="
    assert event.dedupe_key == wamid
    assert event.type is EventType.MESSAGE_RECEIVED
    assert event.routing_key == PHONE_NUMBER_ID
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, tzinfo=UTC)
    assert event.data == {
        "message": {
            "id": wamid,
            "conversation_id": WA_ID,
            "sender": {"id": WA_ID, "name": "Lucía Fernández"},
            "recipient": {"id": PHONE_NUMBER_ID},
            "kind": "text",
            "text": "Hola, ¿tienen stock del modelo azul?",
            "attachments": [],
        }
    }


def test_context_id_is_reply_to(wa: Callable[[str], list[PlatformEvent]]) -> None:
    [event] = wa("reply")
    assert _message(event)["reply_to"] == {"message_id": "wamid.original1"}
    [forwarded] = wa("forwarded_text")
    assert "reply_to" not in _message(forwarded)


@pytest.mark.parametrize(
    ("case", "attachment"),
    [
        (
            "image",
            {
                "kind": "image",
                "media_id": "1003385438159120",
                "mime_type": "image/jpeg",
                "caption": "La etiqueta",
            },
        ),
        (
            "audio_voice",
            {
                "kind": "audio",
                "media_id": "1176534556892345",
                "mime_type": "audio/ogg; codecs=opus",
            },
        ),
        (
            "video",
            {
                "kind": "video",
                "media_id": "883461237755432",
                "mime_type": "video/mp4",
                "caption": "Así llegó",
            },
        ),
        (
            "document",
            {
                "kind": "document",
                "media_id": "745327762101234",
                "mime_type": "application/pdf",
                "caption": "Factura",
                "filename": "factura-0001.pdf",
            },
        ),
        ("sticker", {"kind": "sticker", "media_id": "2205483163167380", "mime_type": "image/webp"}),
    ],
)
def test_media_becomes_one_attachment_of_its_kind(
    wa: Callable[[str], list[PlatformEvent]], case: str, attachment: dict[str, str]
) -> None:
    [event] = wa(case)
    message = _message(event)
    assert message["kind"] == attachment["kind"]
    assert message["attachments"] == [attachment]
    assert "text" not in message


def test_location_keeps_name_and_address(wa: Callable[[str], list[PlatformEvent]]) -> None:
    [named] = wa("location_named")
    assert _message(named)["kind"] == "location"
    assert _message(named)["location"] == {
        "latitude": -34.6037,
        "longitude": -58.3816,
        "name": "Obelisco",
        "address": "Av. 9 de Julio s/n, CABA",
        "url": "https://maps.google.com/?cid=1",
    }
    [current] = wa("location_current")
    assert _message(current)["location"] == {"latitude": 12.25089, "longitude": 43.90539}


def test_contacts_become_contact_cards(wa: Callable[[str], list[PlatformEvent]]) -> None:
    [event] = wa("contacts")
    message = _message(event)
    assert message["kind"] == "contacts"
    assert message["contacts"] == [
        {
            "name": "Chandler Bing",
            "phones": [{"phone": "+1 555-555-5555", "type": "CELL", "user_id": "15555555555"}],
            "emails": [{"email": "chandler@example.com", "type": "WORK"}],
        },
        {"name": "Monica", "phones": [{"phone": "+1 666-666-6666", "type": "HOME"}]},
    ]


@pytest.mark.parametrize(
    ("case", "interaction", "reply_to"),
    [
        (
            "button_reply",
            {"id": "confirm_order", "title": "Confirmar", "payload": "confirm_order"},
            "wamid.menu1",
        ),
        ("list_reply", {"id": "size_m", "title": "Talle M", "payload": "size_m"}, "wamid.menu2"),
        ("template_button", {"title": "Dejar de recibir", "payload": "STOP_PROMOS"}, "wamid.tpl1"),
        (
            "flow_reply",
            {"title": "Sent", "payload": '{"flow_token": "abc", "size": "M"}'},
            "wamid.flowmsg",
        ),
    ],
)
def test_replies_to_buttons_and_lists_are_interactive(
    wa: Callable[[str], list[PlatformEvent]],
    case: str,
    interaction: dict[str, str],
    reply_to: str,
) -> None:
    [event] = wa(case)
    message = _message(event)
    assert message["kind"] == "interactive"
    assert message["interaction"] == interaction
    assert message["reply_to"] == {"message_id": reply_to}


def test_reactions_name_the_message_and_emoji(wa: Callable[[str], list[PlatformEvent]]) -> None:
    [added] = wa("reaction")
    assert _message(added)["kind"] == "reaction"
    assert _message(added)["reaction"] == {"message_id": "wamid.ours1", "emoji": "\U0001f44d"}
    [removed] = wa("reaction_removed")
    assert _message(removed)["reaction"] == {"message_id": "wamid.ours1", "emoji": ""}


def test_edit_is_message_edited_of_the_original(wa: Callable[[str], list[PlatformEvent]]) -> None:
    [event] = wa("edit_text")
    assert event.type is EventType.MESSAGE_EDITED
    # The edit's own wamid dedupes; the event names the message that changed.
    assert event.dedupe_key == "wamid.edit1"
    assert _message(event)["id"] == "wamid.text1"
    assert _message(event)["text"] == "Hola, ¿tienen stock del modelo rojo?"
    assert event.occurred_at == datetime(2024, 11, 29, 4, 55, tzinfo=UTC)
    [caption] = wa("edit_caption")
    assert caption.type is EventType.MESSAGE_EDITED
    assert _message(caption)["id"] == "wamid.image1"
    assert _message(caption)["attachments"][0]["caption"] == "La etiqueta (bien)"


@pytest.mark.parametrize(
    ("case", "unsupported_type"),
    [
        ("order", "order"),
        ("unsupported", "unsupported"),
        ("future_type", "hologram"),
        ("interactive_with_change_error", "interactive"),
    ],
)
def test_unknown_types_are_unsupported_never_errors(
    wa: Callable[[str], list[PlatformEvent]], case: str, unsupported_type: str
) -> None:
    [event] = wa(case)
    message = _message(event)
    assert event.type is EventType.MESSAGE_RECEIVED
    assert message["kind"] == "unsupported"
    assert message["unsupported_type"] == unsupported_type
    assert message["attachments"] == []


def test_unsupported_carries_the_platform_error(wa: Callable[[str], list[PlatformEvent]]) -> None:
    [event] = wa("unsupported")
    assert _message(event)["error"] == {
        "code": "131051",
        "message": "Message type unknown",
        "details": "Message type is currently not supported.",
    }
    [change_level] = wa("interactive_with_change_error")
    assert _message(change_level)["error"]["code"] == "131000"


@pytest.mark.parametrize(
    ("case", "state", "seconds"),
    [
        ("status_sent", "sent", 1732856010),
        ("status_delivered", "delivered", 1732856011),
        ("status_read", "read", 1732856020),
        ("status_played", "played", 1732856025),
        ("status_deleted", "deleted", 1732856026),
        ("status_failed", "failed", 1732856030),
    ],
)
def test_statuses_become_message_status(
    wa: Callable[[str], list[PlatformEvent]], case: str, state: str, seconds: int
) -> None:
    [event] = wa(case)
    assert event.type is EventType.MESSAGE_STATUS
    assert event.routing_key == PHONE_NUMBER_ID
    assert event.occurred_at == datetime.fromtimestamp(seconds, tz=UTC)
    status = event.data["status"]
    assert status["state"] == state
    assert status["recipient_id"] == WA_ID
    # One wamid goes through every state: each state is its own event.
    assert event.dedupe_key == f"{status['message_id']}:{state}"


def test_failed_status_carries_the_first_error(wa: Callable[[str], list[PlatformEvent]]) -> None:
    [event] = wa("status_failed")
    assert event.data["status"]["error"] == {
        "code": "131047",
        "message": "Re-engagement message",
        "details": (
            "Message failed to send because more than 24 hours have passed since the customer "
            "last replied to this number."
        ),
    }
    [sent] = wa("status_sent")
    assert "error" not in sent.data["status"]


def test_a_status_in_an_unknown_state_is_a_platform_event(
    wa: Callable[[str], list[PlatformEvent]], payloads: Load
) -> None:
    [event] = wa("status_unknown_state")
    assert event.type is EventType.PLATFORM_EVENT
    assert event.routing_key == PHONE_NUMBER_ID
    assert event.dedupe_key == "wamid.ours3:queued"
    [status] = payloads("whatsapp")["status_unknown_state"]["entry"][0]["changes"][0]["value"][
        "statuses"
    ]
    assert event.data == {"kind": "statuses", "payload": status}


def test_template_update_goes_to_the_business_account(
    wa: Callable[[str], list[PlatformEvent]], payloads: Load
) -> None:
    [event] = wa("template_status_update")
    assert event.type is EventType.PLATFORM_EVENT
    # No phone number in it: every number of the WABA gets its own copy.
    assert event.routing_by is RouteBy.BUSINESS_ACCOUNT
    assert event.routing_key == "102290129340398"
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, tzinfo=UTC)
    [change] = payloads("whatsapp")["template_status_update"]["entry"][0]["changes"]
    assert event.data == {"kind": "message_template_status_update", "payload": change}
    assert event.dedupe_key.startswith("message_template_status_update:")


def test_business_app_echo_is_message_sent(wa: Callable[[str], list[PlatformEvent]]) -> None:
    [event] = wa("smb_echo")
    assert event.type is EventType.MESSAGE_SENT
    assert event.dedupe_key == "wamid.echo1"
    assert event.routing_key == PHONE_NUMBER_ID
    assert event.data == {
        "message": {
            "id": "wamid.echo1",
            "conversation_id": WA_ID,
            "sender": {"id": PHONE_NUMBER_ID},
            "recipient": {"id": WA_ID},
            "kind": "text",
            "text": "sent from the app",
            "attachments": [],
        }
    }


def test_revoke_is_message_deleted_of_the_original(
    wa: Callable[[str], list[PlatformEvent]],
) -> None:
    [event] = wa("revoke")
    assert event.type is EventType.MESSAGE_DELETED
    assert event.dedupe_key == "wamid.revoke1"
    assert event.routing_key == PHONE_NUMBER_ID
    assert event.data == {
        "message": {"id": "wamid.text1", "conversation_id": WA_ID, "sender": {"id": WA_ID}}
    }


def test_system_message_is_a_platform_event(
    wa: Callable[[str], list[PlatformEvent]], payloads: Load
) -> None:
    [event] = wa("system")
    assert event.type is EventType.PLATFORM_EVENT
    assert event.dedupe_key == "wamid.system1"
    assert event.routing_key == PHONE_NUMBER_ID
    [message] = payloads("whatsapp")["system"]["entry"][0]["changes"][0]["value"]["messages"]
    assert event.data == {"kind": "system", "payload": message}


def test_batch_splits_every_entry_change_message_and_status(
    wa: Callable[[str], list[PlatformEvent]],
) -> None:
    events = wa("batch")
    assert [e.dedupe_key for e in events] == [
        "wamid.batch.m1",
        "wamid.batch.m2",
        "wamid.batch.out1:sent",
        "wamid.batch.m3",
        "wamid.batch.out2:delivered",
        "wamid.batch.out2:read",
        "wamid.batch.m4",
        "wamid.batch.out3:failed",
        "wamid.batch.out4:sent",
        "wamid.batch.out5:read",
    ]
    assert [e.type for e in events].count(EventType.MESSAGE_RECEIVED) == 4
    assert [e.routing_key for e in events] == [PHONE_NUMBER_ID] * 6 + ["106540352242923"] * 4
    assert [_message(e)["text"] for e in events if e.type is EventType.MESSAGE_RECEIVED] == [
        "mensaje 1",
        "mensaje 2",
        "mensaje 3",
        "mensaje 4",
    ]


def test_every_fixture_is_normalized_with_unique_keys(normalized: Run, payloads: Load) -> None:
    for name, payload in payloads("whatsapp").items():
        keys = [e.dedupe_key for e in normalized(Channel.WHATSAPP, payload)]
        assert len(keys) == len(set(keys)), name


def test_ids_sent_as_numbers_become_strings(normalized: Run) -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": 1,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": 106540352242922},
                            "messages": [
                                {
                                    "from": 5491122334455,
                                    "id": 77,
                                    "timestamp": 1732856000,
                                    "type": "text",
                                    "text": {"body": "hola"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    [event] = normalized(Channel.WHATSAPP, payload)
    assert event.routing_key == PHONE_NUMBER_ID
    assert event.dedupe_key == "77"
    assert _message(event)["sender"] == {"id": WA_ID}
    assert event.occurred_at == datetime(2024, 11, 29, 4, 53, 20, tzinfo=UTC)


def test_message_without_id_or_with_bad_fields(normalized: Run) -> None:
    base = {"metadata": {"phone_number_id": PHONE_NUMBER_ID}}
    no_id = {"from": WA_ID, "timestamp": "1", "type": "text", "text": {"body": "x"}}
    broken = {"id": "wamid.b", "from": WA_ID, "timestamp": "soon", "type": "image", "image": "x"}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"value": {**base, "messages": [no_id, broken, 5]}}]}],
    }
    without_id, event = normalized(Channel.WHATSAPP, payload)
    # Nothing identifies it but itself: forwarded as it came, keyed by its content.
    assert without_id.type is EventType.PLATFORM_EVENT
    assert without_id.data == {"kind": "messages", "payload": no_id}
    assert without_id.routing_key == PHONE_NUMBER_ID
    assert event.dedupe_key == "wamid.b"
    assert event.occurred_at is None
    assert _message(event)["kind"] == "unsupported"
    assert _message(event)["unsupported_type"] == "image"


@pytest.mark.parametrize(
    "payload", [None, [], "text", 3, {}, {"object": "page", "entry": []}, {"entry": []}]
)
def test_a_delivery_without_items_gives_nothing(normalized: Run, payload: object) -> None:
    assert normalized(Channel.WHATSAPP, payload) == []


def test_a_body_without_entries_is_one_platform_event(normalized: Run) -> None:
    payload = {"entry": "nope", "note": 1}
    [event] = normalized(Channel.WHATSAPP, payload)
    assert event.type is EventType.PLATFORM_EVENT
    assert event.routing_key is None
    assert event.data == {"kind": "whatsapp_business_account", "payload": payload}


def test_another_platforms_delivery_gives_one_platform_event_per_entry(normalized: Run) -> None:
    entries = [{"id": "108711234567890", "time": 1, "messaging": []}, {"id": "2", "time": 2}]
    events = normalized(Channel.WHATSAPP, {"object": "page", "entry": entries})
    assert [e.data for e in events] == [{"kind": "page", "payload": e} for e in entries]
    assert [e.routing_key for e in events] == ["108711234567890", "2"]
    assert {e.routing_by for e in events} == {RouteBy.EXTERNAL_ID}


def test_sender_without_a_number_is_the_single_contact(normalized: Run) -> None:
    """A user with a username hides the number: the business-scoped id stands in."""
    value = {
        "metadata": {"phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Lu"}, "user_id": "AR.13491208655302741918"}],
        "messages": [
            {"id": "wamid.u1", "timestamp": "1732856000", "type": "text", "text": {"body": "hi"}}
        ],
    }
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}
    [event] = normalized(Channel.WHATSAPP, payload)
    assert _message(event)["sender"] == {"id": "AR.13491208655302741918", "name": "Lu"}
    assert _message(event)["conversation_id"] == "AR.13491208655302741918"


def test_group_message_belongs_to_the_group_conversation(normalized: Run) -> None:
    """Answering the sender's own chat would take a group conversation private."""
    message = {
        "from": WA_ID,
        "group_id": "120363000000000009",
        "id": "wamid.g1",
        "timestamp": "1732856000",
        "type": "text",
        "text": {"body": "para todos"},
    }
    value = {"metadata": {"phone_number_id": PHONE_NUMBER_ID}, "messages": [message]}
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}
    [event] = normalized(Channel.WHATSAPP, payload)
    assert _message(event)["conversation_id"] == "120363000000000009"
    assert _message(event)["sender"] == {"id": WA_ID}


def test_sender_known_only_by_business_scoped_id(normalized: Run) -> None:
    message = {
        "from_user_id": "AR.9",
        "id": "wamid.u2",
        "timestamp": "1732856000",
        "type": "text",
        "text": {"body": "hola"},
    }
    contacts = [{"profile": {"name": "Lu"}, "user_id": "AR.9"}, {"wa_id": "1"}]
    value = {"metadata": {"phone_number_id": PHONE_NUMBER_ID}, "contacts": contacts}
    value["messages"] = [message]
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}
    [event] = normalized(Channel.WHATSAPP, payload)
    assert _message(event)["sender"] == {"id": "AR.9", "name": "Lu"}
