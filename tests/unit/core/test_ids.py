"""Ids sort by creation time and carry their prefix."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from integration_core.ids import new_id


def test_id_has_prefix_and_fixed_length() -> None:
    value = new_id("evt")
    assert re.fullmatch(r"evt_[0-9a-hjkmnp-tv-z]{26}", value)


@given(st.integers(0, 2**47), st.integers(1, 2**20))
def test_later_ids_sort_after_earlier_ones(earlier: int, gap: int) -> None:
    assert new_id("x", now_ms=earlier) < new_id("x", now_ms=earlier + gap)


def test_ids_made_in_the_same_millisecond_differ() -> None:
    assert len({new_id("x", now_ms=5) for _ in range(1000)}) == 1000
