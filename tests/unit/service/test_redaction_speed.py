"""Redaction runs in linear time: no log line, however hostile, can stall the event loop.

Every log line goes through :func:`redact_text`, and log lines carry text a client chose (a
path, a query, a platform's error). Before, ``"/" + "a." * 4000`` took about a second to redact:
quadratic backtracking in one pattern. Each check here measures wall time with
:func:`time.perf_counter`; a quadratic pattern takes seconds on these inputs, so the bounds are
far from both the linear cost (a few milliseconds) and anything a busy machine adds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters_observability.redaction import REDACTED, redact, redact_text

SIZE = 64 * 1024
BOUND_64_KB = 0.050  # seconds
BOUND_WORST_BEFORE = 0.010

# What the patterns look for, one alphabet per family of patterns: the start of each secret
# shape, the characters its repetitions consume, and the separators around it. A few pieces of
# one alphabet repeated in any order is what makes a backtracking pattern rescan the same run
# from every position; mixing alphabets keeps the patterns' interplay covered too.
ALPHABETS = {
    "names": ("a", "Z", "7", ".", "_", "a.", "a_", "-", "token", "Token", "secret", "apikey"),
    "assignments": ("a", ".", "_", "=", "&", ";", " ", "token=", "_token", ".token", "passwd"),
    "json": ('"', '": "', ":", " ", "\t", "a", "_", "token", 'token"', "api_key", "password"),
    "bot_tokens": ("1", "9", "0", ":", "123:", "9:", "a", "Z", "_", "-"),
    "urls": ("://", "://u:", ":", "@", "/", "//", "a", ".", " "),
    "authorization": ("Bearer ", "basic\t", "b", "B", " ", "\t", "a", ".", "=", "/", "+"),
    "shapes": (
        "eyJ",
        "eyJabcd.",
        "EAA",
        "IGAA",
        "IGQ",
        "APP_USR-",
        "TEST-",
        "whsec_",
        "a",
        "7",
        ".",
        "-",
        "_",
        " ",
    ),
}
EVERY_PIECE = tuple(sorted({piece for pieces in ALPHABETS.values() for piece in pieces}))


def _elapsed(work: Callable[[], object]) -> float:
    """Return the seconds *work* took: the best of two runs.

    A quadratic pattern is slow every time; a scheduler pause on a busy machine is not.
    """
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def _fill(unit: str, size: int = SIZE) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _pieces(alphabet: tuple[str, ...], *, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(alphabet), min_size=min_size, max_size=10).map("".join)


# A head, a unit repeated up to 64 KB, a tail: the unit from one alphabet or from all of them.
adversarial = st.sampled_from([*ALPHABETS.values(), EVERY_PIECE]).flatmap(
    lambda alphabet: st.builds(
        lambda head, unit, tail: head + _fill(unit, SIZE - len(head) - len(tail)) + tail,
        _pieces(EVERY_PIECE),
        _pieces(alphabet, min_size=1),
        _pieces(EVERY_PIECE),
    )
)


@settings(
    max_examples=100,
    deadline=None,  # measured inside, with its own bound
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(text=adversarial)
def test_redacting_64_kb_of_adversarial_text_stays_within_milliseconds(text: str) -> None:
    assert len(text) == SIZE

    seconds = _elapsed(lambda: redact_text(text))

    assert seconds < BOUND_64_KB, f"{seconds * 1000:.1f} ms for {text[:60]!r}..."


@pytest.mark.parametrize(
    "text",
    [
        "/" + "a." * 4000,  # the path that took about a second before
        "/" + "a_" * 4000,
        "1" * 8000,  # "\d+:" from every digit of a run
        "1" * 8000 + ":" + "a" * 29,
        '"' + "a." * 4000,
        "x" + "b" * 8000,
        "://" + "a:" * 4000,
        "eyJ" + "a." * 4000,
    ],
    ids=["dots", "underscores", "digits", "digits-colon", "quote-dots", "bs", "url", "jwt"],
)
def test_what_was_quadratic_before_is_linear_now(text: str) -> None:
    assert _elapsed(lambda: redact_text(text)) < BOUND_WORST_BEFORE


def test_a_whole_log_event_of_adversarial_fields_is_redacted_quickly() -> None:
    event = {
        "event": "http_request",
        "path": "/" + "a." * 4000,
        "query": "q=" + "1" * 8000,
        "headers": {"x-" + "a_" * 2000: "a." * 4000},
    }

    assert _elapsed(lambda: redact(event)) < BOUND_WORST_BEFORE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The name before the credential word is kept as it was, whatever its shape.
        ("a.b.c_secret_token=s3cr3t&x=1", f"a.b.c_secret_token={REDACTED}&x=1"),
        ("GET /x?accessToken=abc123", f"GET /x?accessToken={REDACTED}"),
        ('{"DB_PASSWORD" : "hunter2"}', f'{{"DB_PASSWORD": "{REDACTED}"}}'),
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {REDACTED}"),
        ("bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw!", f"bot {REDACTED}!"),
        ("(EAAGm0PX4ZCpsBAKZCZBZC0Example12345)", f"({REDACTED})"),
        ("APP_USR-1234567890123456-000000-abc", REDACTED),
        ("TEST-1234567890123456-000000-abc", REDACTED),
    ],
)
def test_the_rewritten_patterns_still_mask(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # A word boundary is still required before these shapes, as before.
        "NEAAGm0PX4ZCpsBAKZCZBZC0Example12345",
        "xIGAAQ7Zk1nLOgBZAFNsWjR0bV9h",
        "CONTEST-1234567890123456-000000",
        "newbearer abcdef",
        # token_expires_at is not a credential; "=" must follow the word.
        "token_expires_at=2026-01-01",
        "monkey=1 keyring=2 key=3",
    ],
)
def test_look_alikes_are_kept(text: str) -> None:
    assert redact_text(text) == text
