"""Every delivery shape the platforms send gives one documented event per item, never none.

The shapes are ``tests/deliveries/*.json`` (see its README): one per kind of real delivery in
the shared vectors, plus the kinds issue 13 names. For each, the normalizer must give exactly
the listed events, one per item, each valid against ``docs/events.schema.json`` (the
``normalized`` fixture checks that), and a ``platform.event`` must carry its item as received.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration_core.channels import Channel
from integration_core.events import EventType
from integration_core.normalize import PlatformEvent, RouteBy

Run = Callable[..., list[PlatformEvent]]

DELIVERIES = Path(__file__).resolve().parents[2] / "deliveries"
_MESSAGES = {EventType.MESSAGE_RECEIVED, EventType.MESSAGE_EDITED, EventType.MESSAGE_SENT}


def _shapes(platform: str) -> list[Any]:
    loaded: dict[str, dict[str, Any]] = json.loads(
        (DELIVERIES / f"{platform}.json").read_text(encoding="utf-8")
    )
    return [pytest.param(shape, id=name) for name, shape in loaded.items()]


def describe(event: PlatformEvent) -> str:
    """Return ``"<type>:<kind>[ standby]"``, as the shape files list expected events."""
    data = event.data
    if event.type in _MESSAGES:
        detail = data["message"]["kind"]
    elif event.type is EventType.MESSAGE_STATUS:
        detail = data["status"]["state"]
    elif event.type is EventType.PLATFORM_EVENT:
        detail = data["kind"]
    else:
        detail = ""
    standby = " standby" if data.get("standby") is True else ""
    return f"{event.type.value}:{detail}{standby}"


def whatsapp_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the items of a WhatsApp delivery: its messages, statuses and echoes, or the
    change itself when it has none of those."""
    found: list[dict[str, Any]] = []
    for entry in body["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            listed = [
                *value.get("messages", []),
                *value.get("statuses", []),
                *value.get("message_echoes", []),
            ]
            found.extend(listed or [change])
    return found


def meta_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the items of a Messenger or Instagram delivery, in the normalizer's order."""
    found: list[dict[str, Any]] = []
    for entry in body["entry"]:
        for name in ("messaging", "standby", "changes"):
            found.extend(entry.get(name, []))
    return found


def check_shape(
    channel: Channel,
    normalized: Run,
    shape: dict[str, Any],
    items: list[dict[str, Any]],
) -> list[PlatformEvent]:
    """Normalize *shape*'s body and check it gave its listed events, one per item in *items*."""
    events = normalized(channel, shape["body"])
    assert [describe(e) for e in events] == shape["events"]
    assert len(events) == len(items)
    for event, item in zip(events, items, strict=True):
        if event.type is EventType.PLATFORM_EVENT:
            assert event.data["payload"] == item
        if event.type is EventType.MESSAGE_RECEIVED:
            # Never a fake message: a person sent it, so it has a sender and a conversation.
            assert event.data["message"]["sender"]["id"]
            assert event.data["message"]["conversation_id"]
    keys = [e.dedupe_key for e in events]
    assert len(set(keys)) == len(keys)
    # A redelivery is recognised: the same body gives the same keys (hashed ones too).
    assert [e.dedupe_key for e in normalized(channel, shape["body"])] == keys
    return events


@pytest.mark.parametrize("shape", _shapes("whatsapp"))
def test_whatsapp_shapes(normalized: Run, shape: dict[str, Any]) -> None:
    body = shape["body"]
    events = check_shape(Channel.WHATSAPP, normalized, shape, whatsapp_items(body))
    [entry] = body["entry"]
    [change] = entry["changes"]
    if shape.get("route") == "business_account":
        # Account-level news: every number of the business account gets its own copy.
        expected = (entry["id"], RouteBy.BUSINESS_ACCOUNT)
    else:
        expected = (change["value"]["metadata"]["phone_number_id"], RouteBy.EXTERNAL_ID)
    assert {(e.routing_key, e.routing_by) for e in events} == {expected}


@pytest.mark.parametrize("shape", _shapes("messenger"))
def test_messenger_shapes(normalized: Run, shape: dict[str, Any]) -> None:
    events = check_shape(Channel.MESSENGER, normalized, shape, meta_items(shape["body"]))
    page = shape["body"]["entry"][0]["id"]
    assert {(e.routing_key, e.routing_by) for e in events} == {(page, RouteBy.EXTERNAL_ID)}


@pytest.mark.parametrize("shape", _shapes("instagram"))
def test_instagram_shapes(normalized: Run, shape: dict[str, Any]) -> None:
    events = check_shape(Channel.INSTAGRAM, normalized, shape, meta_items(shape["body"]))
    account = shape["body"]["entry"][0]["id"]
    assert {(e.routing_key, e.routing_by) for e in events} == {(account, RouteBy.EXTERNAL_ID)}


@pytest.mark.parametrize("shape", _shapes("telegram"))
def test_telegram_shapes(normalized: Run, shape: dict[str, Any]) -> None:
    [event] = check_shape(Channel.TELEGRAM, normalized, shape, [shape["body"]])
    assert event.dedupe_key == str(shape["body"]["update_id"])
    assert event.routing_key is None


def test_echoes_address_the_person_they_went_to(normalized: Run) -> None:
    """Whichever way round an echo names its parties, the conversation is the person's."""
    shapes = {p.id: p.values[0] for p in _shapes("messenger")}
    page = "200000000000001"
    for name in ("echo_without_content", "echo_text"):
        [event] = normalized(Channel.MESSENGER, shapes[name]["body"])
        message = event.data["message"]
        assert message["sender"] == {"id": page}
        assert message["conversation_id"] == message["recipient"]["id"] == "7000000000000001"


def test_the_same_change_at_another_time_is_another_event(normalized: Run) -> None:
    shapes = {p.id: p.values[0] for p in _shapes("whatsapp")}
    body = shapes["template_status_approved"]["body"]
    later = json.loads(json.dumps(body))
    later["entry"][0]["time"] += 3600
    [first] = normalized(Channel.WHATSAPP, body)
    [second] = normalized(Channel.WHATSAPP, later)
    assert first.data == second.data
    assert first.dedupe_key != second.dedupe_key
