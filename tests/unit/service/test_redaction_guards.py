"""The guards of :func:`redact_text` skip only searches that could not have matched.

Each value pattern is searched only when its guard finds one of the pattern's literals, and a
text no guard finds anything in is returned as it is. The oracle here runs every pattern on
every text, as redaction did before the guards: both must give the same text for any input,
including the pieces each pattern looks for and non-ASCII letters that match ASCII ones when
case is ignored (the Kelvin sign, the dotted capital I).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters_observability.redaction import _VALUE_PATTERNS, redact_text

from .test_redaction_speed import EVERY_PIECE

NON_ASCII = ("\u0130", "\u0131", "\u212a", "\u017f", "\u00e9", "\u0307", "\u00df", "\uff21")
SECRETS = (
    "Bearer abc.def",
    "BASIC dXNlcjpwYXNz",
    "bEaReR\tx",
    "123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ",
    "EAAB" + "x" * 24,
    "IGAA" + "y" * 20,
    "APP_USR-" + "1" * 24,
    "TEST-" + "a-" * 12,
    "whsec_c2VjcmV0",
    "eyJhbGciOi.eyJzdWIi.sig",
    "access_token=abc",
    '"client_secret": "shh"',
    "postgresql://user:pw@db/x",
)


def _unguarded(text: str) -> str:
    for _guard, pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


texts = st.lists(
    st.sampled_from(EVERY_PIECE + NON_ASCII + SECRETS) | st.text(max_size=8), max_size=24
).map("".join)


@settings(max_examples=2000)
@given(texts)
def test_guarded_redaction_equals_every_pattern_run_on_every_text(text: str) -> None:
    assert redact_text(text) == _unguarded(text)


def test_a_secret_in_each_shape_is_still_masked() -> None:
    for secret in SECRETS:
        assert redact_text(f"x {secret} y") == _unguarded(f"x {secret} y") != f"x {secret} y"
