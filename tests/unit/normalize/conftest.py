"""Shared checks for the normalizer tests: every event produced is a valid forwarded event.

The ``normalized`` fixture runs a platform's normalizer and, before returning its events, wraps
each into a full forwarded envelope and validates it against ``docs/events.schema.json``, so no
test can produce an event the documented format does not allow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from integration_core.channels import Channel
from integration_core.events import EventType
from integration_core.ids import new_id
from integration_core.normalize import NORMALIZERS, PlatformEvent
from integration_core.serialization import format_datetime

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "events.schema.json"
PAYLOADS = Path(__file__).resolve().parent / "payloads"
RECEIVED_AT = datetime(2024, 11, 29, 5, 0, tzinfo=UTC)

# RFC 3339 section 5.6; jsonschema only checks "date-time" with an optional extra installed,
# so the check is ours and always on.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "format" only constrains strings
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_rfc3339)
    return checker


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker())


def envelope(channel: Channel, event: PlatformEvent) -> dict[str, Any]:
    """Wrap *event* into the body the forwarder would POST, as JSON-ready data."""
    occurred = event.occurred_at or RECEIVED_AT
    return {
        "id": new_id("evt"),
        "type": event.type.value,
        "tenant_id": "tenant_acme",
        "integration_id": new_id("int"),
        "channel": channel.value,
        "occurred_at": format_datetime(occurred),
        "received_at": format_datetime(RECEIVED_AT),
        "data": event.data,
    }


def check_event(channel: Channel, event: PlatformEvent) -> None:
    """Fail unless *event* is well formed and its envelope matches the published schema."""
    assert isinstance(event, PlatformEvent)
    assert isinstance(event.dedupe_key, str)
    assert event.dedupe_key
    assert event.routing_key is None or event.routing_key != ""
    if event.occurred_at is not None:
        assert event.occurred_at.utcoffset() == timedelta(0)
    body = envelope(channel, event)
    # Strict JSON: no NaN, no infinity, nothing json cannot serialize.
    text = json.dumps(body["data"], allow_nan=False, sort_keys=True)
    # Mutation tests produce the same event many times: validate each distinct one once.
    seen = (channel, event.type, event.occurred_at is None, text)
    if seen in _VALID:
        return
    errors = sorted(_validator().iter_errors(body), key=lambda e: list(e.absolute_path))
    details = "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    assert not errors, f"{channel} event does not match the schema:\n{details}\n{body}"
    _VALID.add(seen)


_VALID: set[tuple[Channel, EventType, bool, str]] = set()


Normalized = Callable[..., list[PlatformEvent]]


@pytest.fixture(scope="session")
def normalized() -> Normalized:
    """Return ``run(channel, payload, headers=None)``: normalize, then validate every event."""

    def run(
        channel: Channel, payload: object, headers: Mapping[str, str] | None = None
    ) -> list[PlatformEvent]:
        events = NORMALIZERS[channel](payload, headers=headers)
        assert isinstance(events, list)
        for event in events:
            check_event(channel, event)
        return events

    return run


@pytest.fixture(scope="session")
def schema_validator() -> Draft202012Validator:
    """Return the validator of ``docs/events.schema.json``, checking ``date-time`` formats."""
    return _validator()


@pytest.fixture(scope="session")
def payloads() -> Callable[[str], Mapping[str, Any]]:
    """Return a loader of the named fixture deliveries of one platform (``payloads/*.json``)."""

    @cache
    def load(platform: str) -> Mapping[str, Any]:
        loaded: Mapping[str, Any] = json.loads(
            (PAYLOADS / f"{platform}.json").read_text(encoding="utf-8")
        )
        return loaded

    return load
