"""Instagram messaging deliveries (messaging items and messaging changes) become events."""

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
Case = Callable[[str], list[PlatformEvent]]

ACCOUNT = "17841400000000000"
IGSID = "1284559088871234"
MILLIS = 1732856000123
CDN = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={}&signature=x"


@pytest.fixture
def ig(normalized: Run, payloads: Load) -> Case:
    return lambda name: normalized(Channel.INSTAGRAM, payloads("instagram")[name])


def _message(event: PlatformEvent) -> dict[str, Any]:
    message: dict[str, Any] = event.data["message"]
    return message


def test_text_message_routes_by_the_account(ig: Case) -> None:
    [event] = ig("text")
    assert event.routing_key == ACCOUNT
    assert event.type is EventType.MESSAGE_RECEIVED
    assert _message(event)["conversation_id"] == IGSID
    assert _message(event)["sender"] == {"id": IGSID}
    assert _message(event)["recipient"] == {"id": ACCOUNT}
    assert _message(event)["text"] == "Hola! Hacen envíos a Córdoba?"
    assert event.dedupe_key == _message(event)["id"]


def test_reply_and_quick_reply(ig: Case) -> None:
    [reply] = ig("reply")
    assert _message(reply)["reply_to"] == {"message_id": "ig_ours1"}
    [quick] = ig("quick_reply")
    assert _message(quick)["kind"] == "interactive"
    assert _message(quick)["interaction"] == {
        "title": "Envío a domicilio",
        "payload": "SHIPPING_HOME",
    }


@pytest.mark.parametrize(
    ("case", "attachment"),
    [
        ("image", {"kind": "image", "url": CDN.format(1)}),
        ("video", {"kind": "video", "url": CDN.format(2)}),
        ("audio", {"kind": "audio", "url": CDN.format(3)}),
        ("file", {"kind": "document", "url": CDN.format(4)}),
        ("gif", {"kind": "image", "url": "https://media.giphy.com/media/xyz/giphy.gif"}),
        ("reel", {"kind": "video", "url": CDN.format(5), "caption": "Nuestro nuevo local"}),
    ],
)
def test_media_attachments(ig: Case, case: str, attachment: dict[str, str]) -> None:
    [event] = ig(case)
    assert _message(event)["kind"] == attachment["kind"]
    assert _message(event)["attachments"] == [attachment]


def test_shared_posts_are_unsupported_links(ig: Case) -> None:
    [share] = ig("share")
    assert _message(share)["kind"] == "unsupported"
    assert _message(share)["unsupported_type"] == "share"
    assert _message(share)["link"] == {"url": CDN.format(6)}
    [post] = ig("ig_post")
    assert _message(post)["unsupported_type"] == "ig_post"
    assert _message(post)["link"] == {
        "url": "https://www.instagram.com/p/ABC123/",
        "title": "Promo de verano",
    }


def test_story_mention_is_unsupported_with_its_story(ig: Case) -> None:
    [event] = ig("story_mention")
    assert _message(event)["kind"] == "unsupported"
    assert _message(event)["unsupported_type"] == "story_mention"
    assert _message(event)["story"] == {"url": CDN.format(7)}


def test_story_reply_keeps_text_and_story(ig: Case) -> None:
    [event] = ig("story_reply")
    assert _message(event)["kind"] == "text"
    assert _message(event)["text"] == "Me encanta!"
    assert _message(event)["story"] == {"id": "17950000000000001", "url": CDN.format(8)}
    assert "reply_to" not in _message(event)


def test_postback_and_reactions(ig: Case) -> None:
    [postback] = ig("postback")
    assert postback.dedupe_key == "ig_pb1"
    assert _message(postback)["interaction"] == {
        "title": "Hablar con una persona",
        "payload": "HUMAN_HANDOFF",
    }
    [react] = ig("reaction")
    assert _message(react)["reaction"] == {"message_id": "ig_ours1", "emoji": "\u2764"}
    [unreact] = ig("unreaction")
    assert _message(unreact)["reaction"] == {"message_id": "ig_ours1", "emoji": ""}
    assert react.dedupe_key != unreact.dedupe_key


def test_read_names_the_message_read(ig: Case) -> None:
    [event] = ig("read")
    assert event.type is EventType.MESSAGE_STATUS
    assert event.dedupe_key == f"read:{IGSID}:ig_ours1"
    assert event.data == {
        "status": {"message_id": "ig_ours1", "state": "read", "recipient_id": IGSID}
    }


def test_unsent_message_is_message_deleted_with_its_own_key(ig: Case) -> None:
    [event] = ig("deleted")
    assert event.type is EventType.MESSAGE_DELETED
    # The deletion repeats the message's mid: it must not look like a redelivery of it.
    assert event.dedupe_key == "deleted:ig_reply1"
    assert event.routing_key == ACCOUNT
    assert event.data == {
        "message": {"id": "ig_reply1", "conversation_id": IGSID, "sender": {"id": IGSID}}
    }


def test_is_unsupported_flag(ig: Case) -> None:
    [event] = ig("is_unsupported")
    assert _message(event)["unsupported_type"] == "unsupported"


def test_message_edit(ig: Case) -> None:
    [event] = ig("message_edit")
    assert event.type is EventType.MESSAGE_EDITED
    assert event.dedupe_key == "edit:ig_reply1:2"
    assert _message(event)["text"] == "Sí, gracias"


def test_echo_is_message_sent_to_the_person(ig: Case) -> None:
    [event] = ig("echo")
    assert event.type is EventType.MESSAGE_SENT
    assert event.dedupe_key == "ig_echo1"
    assert event.routing_key == ACCOUNT
    assert _message(event) == {
        "id": "ig_echo1",
        "conversation_id": IGSID,
        "sender": {"id": ACCOUNT},
        "recipient": {"id": IGSID},
        "kind": "text",
        "text": "Hola! Sí, enviamos.",
        "attachments": [],
    }


def test_instagram_login_changes(ig: Case) -> None:
    [message] = ig("login_changes_message")
    assert message.dedupe_key == "ig_login1"
    assert message.routing_key == ACCOUNT
    # This shape sends seconds, as a string: told apart from milliseconds by size.
    assert message.occurred_at == datetime(2024, 11, 29, 4, 53, 20, tzinfo=UTC)
    [seen] = ig("login_changes_seen")
    assert seen.type is EventType.MESSAGE_STATUS
    assert seen.data["status"]["message_id"] == "ig_ours2"


def test_comment_changes_are_platform_events(ig: Case, payloads: Load) -> None:
    [event] = ig("comment_change")
    assert event.type is EventType.PLATFORM_EVENT
    assert event.routing_key == ACCOUNT
    assert event.routing_by is RouteBy.EXTERNAL_ID
    [change] = payloads("instagram")["comment_change"]["entry"][0]["changes"]
    assert event.data == {"kind": "comments", "payload": change}
    assert event.dedupe_key.startswith("comments:")


def test_batch_splits_every_entry_and_item(ig: Case) -> None:
    events = ig("batch")
    assert [e.dedupe_key for e in events] == ["ig_b1", f"read:{IGSID}:ig_ours9", "ig_b2"]
    assert [e.routing_key for e in events] == [ACCOUNT, ACCOUNT, "17841400000000001"]
    assert events[1].occurred_at == datetime(2024, 11, 29, 4, 53, 20, 124000, tzinfo=UTC)


def test_every_fixture_is_normalized_with_unique_keys(normalized: Run, payloads: Load) -> None:
    for name, payload in payloads("instagram").items():
        keys = [e.dedupe_key for e in normalized(Channel.INSTAGRAM, payload)]
        assert len(keys) == len(set(keys)), name


@pytest.mark.parametrize("payload", [None, True, {"object": "page", "entry": []}])
def test_not_an_instagram_delivery_gives_nothing(normalized: Run, payload: object) -> None:
    assert normalized(Channel.INSTAGRAM, payload) == []
