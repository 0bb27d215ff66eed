"""Property-based tests of a webhook signature scheme, with the strategies integration-core ships.

Use 2 of 4: your service verifies Meta's ``X-Hub-Signature-256`` with
``integration_core.signatures.meta`` (see ``webhook_in_another_framework.py``) and wants its own
suite to prove the properties that matter, over many generated deliveries rather than a few
hand-written ones: a signed body verifies; any changed byte, another secret or a mangled header
fails; a rotation (old and new secret both configured) accepts either. The secrets, bodies and
ids come from ``integration_core.testing.strategies``.

It needs ``pip install 'integration-core[testing]' pytest`` and nothing else: CI runs it in the
same fresh, core-only virtualenv as the first example.

Run: ``pytest examples/test_signature_properties.py``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures import meta
from integration_core.testing import strategies

# Modest counts keep the example quick; no deadline, as CI machines are shared.
PROPERTY = settings(max_examples=60, deadline=None)


@st.composite
def deliveries(draw: st.DrawFn) -> bytes:
    """Draw a delivery's raw bytes: an id and any JSON value, serialized as a platform might."""
    document = {"id": draw(strategies.ids("dlv")), "value": draw(strategies.json_values())}
    # Platforms escape differently (Meta sends \\u00e9 and \\/): verify whatever bytes arrive.
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()


def _rejected(body: bytes, header: str | None, secrets: list[Secret]) -> bool:
    try:
        meta.verify(body, header, secrets)
    except InvalidSignature:
        return True
    return False


@PROPERTY
@given(secret=strategies.secrets(), body=deliveries())
def test_a_signed_delivery_verifies(secret: Secret, body: bytes) -> None:
    meta.verify(body, meta.sign(secret, body), [secret])


@PROPERTY
@given(secret=strategies.secrets(), body=deliveries(), data=st.data())
def test_any_changed_byte_fails(secret: Secret, body: bytes, data: st.DataObject) -> None:
    header = meta.sign(secret, body)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert _rejected(changed, header, [secret])


@PROPERTY
@given(signer=strategies.secrets(), other=strategies.secrets(), body=deliveries())
def test_another_secret_fails(signer: Secret, other: Secret, body: bytes) -> None:
    assume(signer.reveal() != other.reveal())
    assert _rejected(body, meta.sign(signer, body), [other])


@PROPERTY
@given(old=strategies.secrets(), new=strategies.secrets(), body=deliveries())
def test_a_rotation_accepts_either_secret(old: Secret, new: Secret, body: bytes) -> None:
    meta.verify(body, meta.sign(old, body), [new, old])
    meta.verify(body, meta.sign(new, body), [new, old])


@PROPERTY
@given(secret=strategies.secrets(), body=deliveries(), cut=st.integers(1, 70))
def test_a_truncated_or_missing_header_fails(secret: Secret, body: bytes, cut: int) -> None:
    header = meta.sign(secret, body)
    assert _rejected(body, header[:-cut], [secret])
    assert _rejected(body, None, [secret])


@pytest.mark.parametrize("configured", [[], [Secret("")]])
def test_no_usable_secret_fails_closed(configured: list[Secret]) -> None:
    body = b'{"id": "dlv_1"}'
    # Signed with an empty key, which anyone can do: it must never pass.
    assert _rejected(body, meta.sign(Secret(""), body), configured)
