"""The published schema is valid, documents every event type, and rejects what it should."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from integration_core.channels import MESSAGING_CHANNELS
from integration_core.events import EventType
from integration_core.normalize import NORMALIZERS

DOCS = Path(__file__).resolve().parents[3] / "docs"
_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def _examples() -> list[dict[str, Any]]:
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    return [json.loads(block) for block in _BLOCK.findall(text)]


EXAMPLE: dict[str, Any] = {
    "id": "evt_01jdxb7k2m3n4p5q6r7s8t9v0w",
    "type": "message.received",
    "tenant_id": "tenant_acme",
    "integration_id": "int_01jdx6m0a8c9r2t4v6w8y0z2b4",
    "channel": "whatsapp",
    "occurred_at": "2024-11-29T04:53:20.000Z",
    "received_at": "2024-11-29T04:53:20.412Z",
    "data": {
        "message": {
            "id": "wamid.1",
            "conversation_id": "5491122334455",
            "sender": {"id": "5491122334455"},
            "recipient": {"id": "106540352242922"},
            "kind": "text",
            "text": "hola",
            "attachments": [],
        }
    },
}


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads((DOCS / "events.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]["type"]["enum"]) == {t.value for t in EventType}


def test_every_documented_example_is_valid(schema_validator: Draft202012Validator) -> None:
    examples = _examples()
    for example in examples:
        errors = [e.message for e in schema_validator.iter_errors(example)]
        assert not errors, (example["id"], errors)
    # One example at least per type, so the page documents them all.
    assert {e["type"] for e in examples} == {t.value for t in EventType}


_DROP = object()


def _set(path: str, value: object) -> dict[str, Any]:
    event = copy.deepcopy(EXAMPLE)
    *parents, last = path.split(".")
    target: Any = event
    for step in parents:
        target = target[step]
    if value is _DROP:
        del target[last]
    else:
        target[last] = value
    return event


def test_the_reference_example_is_valid(schema_validator: Draft202012Validator) -> None:
    assert schema_validator.is_valid(EXAMPLE)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("id", "int_01jdxb7k2m3n4p5q6r7s8t9v0w"),
        ("type", "message.unknown"),
        ("channel", "sms"),
        ("occurred_at", "2024-11-29 04:53:20"),
        ("received_at", "yesterday"),
        ("tenant_id", ""),
        ("extra", 1),
        ("data.message.text", None),
        ("data.message.kind", "poll"),
        ("data.message.attachments", _DROP),
        ("data.message.sender.id", 5491122334455),
        ("data.message.reply_to", {"id": "wamid.0"}),
        ("data.message.unsupported_type", "poll"),
        ("data.message.attachments", [{"kind": "gif", "url": "https://x"}]),
    ],
)
def test_schema_rejects_what_the_format_forbids(
    schema_validator: Draft202012Validator, path: str, value: object
) -> None:
    assert not schema_validator.is_valid(_set(path, value))


@pytest.mark.parametrize(
    "content",
    [
        {"kind": "text"},
        {"kind": "image"},
        {"kind": "reaction"},
        {"kind": "interactive"},
        {"kind": "location"},
        {"kind": "contacts", "contacts": []},
        {"kind": "unsupported"},
    ],
)
def test_each_kind_needs_its_content(
    schema_validator: Draft202012Validator, content: dict[str, object]
) -> None:
    event = copy.deepcopy(EXAMPLE)
    del event["data"]["message"]["text"]
    event["data"]["message"].update(content)
    assert not schema_validator.is_valid(event)


def test_a_status_names_a_message_or_a_watermark(
    schema_validator: Draft202012Validator,
) -> None:
    event = copy.deepcopy(EXAMPLE)
    event["type"] = "message.status"
    event["data"] = {"status": {"state": "read", "recipient_id": "5491122334455"}}
    assert not schema_validator.is_valid(event)
    event["data"]["status"]["watermark"] = "2024-11-29T04:53:19.123Z"
    assert schema_validator.is_valid(event)
    event["data"]["status"]["message_id"] = "m_1"
    assert not schema_validator.is_valid(event)


def test_payments_come_only_from_mercadopago(schema_validator: Draft202012Validator) -> None:
    [payment] = [e for e in _examples() if e["type"] == "payment.updated"]
    assert schema_validator.is_valid(payment)
    assert not schema_validator.is_valid({**payment, "channel": "whatsapp"})
    message = copy.deepcopy(EXAMPLE)
    assert not schema_validator.is_valid({**message, "channel": "mercadopago"})


def test_every_messaging_channel_has_a_normalizer() -> None:
    assert set(NORMALIZERS) == set(MESSAGING_CHANNELS)


def test_v2_types_have_their_own_strict_data(schema_validator: Draft202012Validator) -> None:
    deleted = {
        **EXAMPLE,
        "type": "message.deleted",
        "data": {"message": {"id": "m_1", "conversation_id": "c", "sender": {"id": "c"}}},
    }
    assert schema_validator.is_valid(deleted)
    # A deletion is not a message: the message shape does not fit it, nor it the message.
    assert not schema_validator.is_valid({**deleted, "data": EXAMPLE["data"]})
    assert not schema_validator.is_valid({**EXAMPLE, "data": deleted["data"]})
    platform = {**EXAMPLE, "type": "platform.event", "data": {"kind": "optin", "payload": {}}}
    assert schema_validator.is_valid(platform)
    for data in ({"kind": "", "payload": {}}, {"kind": "x"}, {"kind": "x", "payload": []}):
        assert not schema_validator.is_valid({**platform, "data": data})
    assert not schema_validator.is_valid({**platform, "data": EXAMPLE["data"]})
    sent = {**EXAMPLE, "type": "message.sent"}
    assert schema_validator.is_valid(sent)
    assert not schema_validator.is_valid({**sent, "data": platform["data"]})


@pytest.mark.parametrize("state", ["played", "deleted"])
def test_v2_status_states(schema_validator: Draft202012Validator, state: str) -> None:
    status = {"message_id": "wamid.1", "state": state, "recipient_id": "549"}
    event = {**EXAMPLE, "type": "message.status", "data": {"status": status}}
    assert schema_validator.is_valid(event)
    event["data"] = {"status": {**status, "state": "listened"}}
    assert not schema_validator.is_valid(event)


def test_standby_is_only_ever_true(schema_validator: Draft202012Validator) -> None:
    event = copy.deepcopy(EXAMPLE)
    event["data"]["standby"] = True
    assert schema_validator.is_valid(event)
    event["data"]["standby"] = False
    assert not schema_validator.is_valid(event)
