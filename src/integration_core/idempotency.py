"""Idempotency keys of create requests: what is remembered, and how a request is recognised.

A client that never got the answer to a create sends it again with the same ``Idempotency-Key``
and must get the first result back, not a second resource (CONTRACT section 3). The record is
stored (so it survives a restart and every replica sees it), scoped per tenant and per kind of
create, and holds a fingerprint of the request, so the same key with a different body is refused
instead of answered with another request's result. Records hold no secret: the fingerprint is a
hash and the response is the secret-free result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from integration_core.credentials import Secret
from integration_core.errors import InvalidInput
from integration_core.ids import TenantId

MAX_KEY_LENGTH: Final = 255


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """A create request remembered under its tenant's *key* within *scope*.

    *completed_at* is ``None`` while the request is in progress; then *resource_id* names what
    was created and *response* is its secret-free result, as JSON-ready data.
    """

    tenant_id: TenantId
    scope: str
    key: str
    fingerprint: str
    created_at: datetime
    completed_at: datetime | None = None
    resource_id: str | None = None
    response: Mapping[str, Any] | None = None


def check_key(key: str) -> str:
    """Return *key* if it is 1-255 printable ASCII characters; else :class:`InvalidInput`."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise InvalidInput(
            f"the Idempotency-Key header must be 1-{MAX_KEY_LENGTH} printable ASCII characters"
        )
    return key


def fingerprint(
    kind: str, *, credentials: Mapping[str, Secret], fields: Mapping[str, object]
) -> str:
    """Return a SHA-256 fingerprint of a request: *kind*, its *fields* and its *credentials*.

    Secrets enter only as their own SHA-256, so the stored fingerprint reveals nothing of them
    while a different token under the same key still makes a different request.
    """
    canonical = json.dumps(
        {
            "kind": kind,
            "fields": {k: fields[k] for k in sorted(fields)},
            "credentials": {
                name: hashlib.sha256(credentials[name].reveal().encode()).hexdigest()
                for name in sorted(credentials)
            },
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
