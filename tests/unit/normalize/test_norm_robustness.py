"""No JSON value makes a normalizer raise, and whatever it emits is still a valid event.

A normalizer that raises turns a webhook into a 5xx, and the platform retries it for days. So
every normalizer takes arbitrary JSON (biased towards the keys and values real payloads use, to
reach deep code) and every fixture delivery with keys dropped or replaced; the ``normalized``
fixture validates each event it returns against the published schema.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration_core.channels import Channel
from integration_core.normalize import NORMALIZERS, PlatformEvent

Run = Callable[..., list[PlatformEvent]]
Path_ = tuple[str | int, ...]

_PAYLOADS_DIR = Path(__file__).resolve().parent / "payloads"
_FILES = {
    Channel.WHATSAPP: "whatsapp",
    Channel.MESSENGER: "messenger",
    Channel.INSTAGRAM: "instagram",
    Channel.TELEGRAM: "telegram",
    Channel.TAWKTO: "tawkto",
    Channel.WEBCHAT: "webchat",
}
_SHAPES_DIR = Path(__file__).resolve().parents[2] / "deliveries"


def _fixtures(channel: Channel, name: str) -> dict[str, Any]:
    """Return the fixture payloads of *channel*, and the delivery shapes where it has them."""
    found: dict[str, Any] = json.loads((_PAYLOADS_DIR / f"{name}.json").read_text("utf-8"))
    shapes = _SHAPES_DIR / f"{name}.json"
    if shapes.exists():
        for shape, entry in json.loads(shapes.read_text("utf-8")).items():
            found[f"shape:{shape}"] = entry["body"]
    return found


# Test data, read once: strategies are built when the module is collected.
FIXTURES: dict[Channel, dict[str, Any]] = {
    channel: _fixtures(channel, name) for channel, name in _FILES.items()
}
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "x-hook-event-id": st.text(max_size=8),
        "webhook-id": st.text(max_size=8),
    },
)


def _walk(value: object, path: Path_ = ()) -> Iterator[tuple[Path_, object]]:
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, (*path, index))


def _vocabulary() -> tuple[list[str], list[object]]:
    """Collect every key and every scalar of the fixtures, to aim random JSON at real shapes."""
    keys: set[str] = set()
    scalars: set[object] = set()
    for deliveries in FIXTURES.values():
        for path, value in _walk(deliveries):
            if path and isinstance(path[-1], str):
                keys.add(path[-1])
            if isinstance(value, str | int | float | bool) or value is None:
                scalars.add(value)
    return sorted(keys), sorted(scalars, key=repr)


KEYS, SCALARS = _vocabulary()
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(SCALARS)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=40,
)
CHANNELS = st.sampled_from(sorted(FIXTURES, key=str))


def _replace(root: object, path: Path_, new: object, *, drop: bool) -> object:
    """Return *root* with the value at *path* replaced by *new* (or removed when *drop*)."""
    if not path:
        return new
    parent: Any = root
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if drop:
        del parent[last]
    else:
        parent[last] = new
    return root


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Channel, object]:
    """Draw a fixture delivery with one to four keys dropped or replaced by random JSON."""
    channel = draw(CHANNELS)
    name = draw(st.sampled_from(sorted(FIXTURES[channel])))
    payload: object = copy.deepcopy(FIXTURES[channel][name])
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p, _ in _walk(payload)]
        path = draw(st.sampled_from(paths))
        drop = bool(path) and draw(st.booleans())
        new = None if drop else draw(JSON)
        payload = _replace(payload, path, new, drop=drop)
    return channel, payload


FAST = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FAST
@given(channel=CHANNELS, payload=JSON, headers=HEADERS)
def test_any_json_value_is_normalized_without_raising(
    normalized: Run, channel: Channel, payload: object, headers: dict[str, str]
) -> None:
    normalized(channel, payload, headers)


@FAST
@given(case=mutated(), headers=HEADERS)
def test_mutated_real_payloads_are_normalized_without_raising(
    normalized: Run, case: tuple[Channel, object], headers: dict[str, str]
) -> None:
    channel, payload = case
    normalized(channel, payload, headers)


@settings(max_examples=50, deadline=None)
@given(channel=CHANNELS, payload=JSON_SCALARS | st.lists(JSON, max_size=3))
def test_a_payload_that_is_not_an_object_gives_nothing(channel: Channel, payload: object) -> None:
    assert NORMALIZERS[channel](payload) == []


@pytest.mark.parametrize("channel", sorted(FIXTURES, key=str))
def test_dropping_or_nulling_any_single_key_never_raises(normalized: Run, channel: Channel) -> None:
    """Exhaustively: every fixture, every key removed, then every value set to null or a list."""
    for original in FIXTURES[channel].values():
        for path, _ in list(_walk(original))[1:]:
            for drop, new in ((True, None), (False, None), (False, [{}]), (False, "x")):
                payload = _replace(copy.deepcopy(original), path, new, drop=drop)
                normalized(channel, payload)
