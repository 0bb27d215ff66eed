"""Cursor pagination shared by every listing."""

from __future__ import annotations

import base64
from typing import Generic, TypeVar

import attrs

from integration_core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a listing; pass *next_cursor* back for the next one (``None``: the last).

    Cursors are opaque to callers: stores encode the sort key of the last item in them.
    """

    items: tuple[T, ...]
    next_cursor: str | None = None


def encode_cursor(last_id: str) -> str:
    """Return an opaque cursor that resumes a listing after the item *last_id*."""
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    """Return the item id a cursor resumes after; :class:`InvalidInput` for a foreign cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError) as exc:
        raise InvalidInput("the cursor is not valid") from exc
    version, sep, last_id = text.partition(":")
    if version != "v1" or not sep or not last_id:
        raise InvalidInput("the cursor is not valid")
    return last_id


def check_limit(limit: int) -> int:
    """Return *limit* if it is between 1 and :data:`MAX_LIMIT`; else :class:`InvalidInput`."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    return limit
