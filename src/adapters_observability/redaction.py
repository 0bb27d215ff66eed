"""Mask secrets in log events, by key name and by the shape of the value.

Contract section 3: no secret or token ever appears in a log line. Code should not log secrets
in the first place; this is the net under it, for a header dict logged whole, a platform error
that echoes a token, or a traceback that shows a URL with its password.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

# A key is sensitive when, lower-cased with dashes as underscores, its last word (optionally
# plural or numbered, as in x-hub-signature-256) is one of these. "token_expires_at" is not.
_SENSITIVE_KEY = re.compile(
    r"(?:^|_)(?:token|secret|password|passwd|pwd|authorization|api_?key|signature|cookie"
    r"|set_cookie|credentials?|private_key|client_secret|dsn)s?(?:_\d+)?$"
)
# Parameter names that carry a credential: a name ending in one of these words (secret_token,
# access_token, accessToken, client_secret, db.password). Not a bare "key" (idempotency_key,
# key_id are not secrets) and not token_expires_at (the word must end the name).
_CREDENTIAL_WORDS = ("token", "secret", "api_key", "apikey", "password", "passwd")


def _after_credential_word(end: str) -> str:
    """Return a pattern that holds where the text just before ends with a word and *end*."""
    return "(?:" + "|".join(f"(?<=(?i:{word}){end})" for word in _CREDENTIAL_WORDS) + ")"


# Log lines carry untrusted text (paths, queries, platform errors), so every pattern must run
# in linear time whatever the input; tests/unit/service/test_redaction_speed.py holds them to it
# on adversarial strings. Each pattern starts with a literal character or class, so the engine
# skips cheaply to the few places a match can start, and checks what must come before (a word
# boundary, a credential's name) with a fixed-width lookbehind from there instead of matching
# it: "\b(?:[a-z0-9]+[_.])*token=" rescanned "a.a.a.a..." from each of its dots (0.9 s for an
# 8 KB path), and "\d+:" rescanned a run of digits from each digit. No repetition can split
# one run of characters in more than one way, so a failed attempt never backtracks far.
#
# Each pattern comes with a guard, a search for the literals one of which any of its matches
# holds, in the same case rules as the pattern: a text the guard finds nothing in is not
# searched, and a text no guard finds anything in is returned at once. A log line's fields are
# mostly short words and ids, so most of them are; the ten searches were half the cost of a
# refused webhook's log line (175 µs on 2026-12-07). A guard is a plain alternation of literals:
# linear whatever the text.
_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (
        re.compile("(?i:earer|asic)"),
        re.compile(r"([bB](?<!\w[bB])(?i:earer|asic))\s+[A-Za-z0-9._~+/=-]+"),
        rf"\1 {REDACTED}",
    ),
    (re.compile("eyJ"), re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}"), REDACTED),
    (re.compile("whsec_"), re.compile(r"whsec_[A-Za-z0-9+/=_-]+"), f"whsec_{REDACTED}"),
    # Telegram bot tokens: "<bot id>:<35 characters>", also inside bot API URLs; matched from
    # the first digit of the id only.
    (re.compile(":"), re.compile(r"[0-9](?<![0-9][0-9])[0-9]*:[A-Za-z0-9_-]{30,}"), REDACTED),
    # Meta access tokens, Instagram Login tokens (IGAA..., and the older IGQ...) and Mercado
    # Pago credentials, each at the start of a word.
    (re.compile("EAA"), re.compile(r"EAA(?<!\wEAA)[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile("IG"), re.compile(r"IG(?<!\wIG)(?:AA|Q)[A-Za-z0-9_-]{16,}"), REDACTED),
    (
        re.compile("APP_USR-|TEST-"),
        re.compile(r"(?:A(?<!\wA)PP_USR|T(?<!\wT)EST)-[A-Za-z0-9-]{20,}"),
        REDACTED,
    ),
    # Credentials in a query string or a form (secret_token=..., access_token=...,
    # client_secret=..., api_key=...), and as a JSON member in text ("secret_token": "...").
    # The match starts at "=" (at the member's closing quote), so the name stays as it was.
    (
        re.compile("="),
        re.compile("=" + _after_credential_word("=") + r"""[^&\s"',;]+"""),
        f"={REDACTED}",
    ),
    (
        re.compile('"'),
        re.compile('"' + _after_credential_word('"') + r'\s*:\s*"[^"]*"'),
        f'": "{REDACTED}"',
    ),
    # The password of a URL such as postgresql://user:password@host/db.
    (re.compile("://"), re.compile(r"(://[^:/@\s]+):[^@/\s]+@"), rf"\1:{REDACTED}@"),
)

_ANY_GUARD = re.compile("|".join(guard.pattern for guard, _, _ in _VALUE_PATTERNS))


def is_sensitive_key(key: object) -> bool:
    """Tell whether a value stored under *key* must never be logged."""
    return isinstance(key, str) and _is_sensitive_name(key)


@functools.lru_cache(maxsize=4096)  # log lines reuse a few dozen field names
def _is_sensitive_name(key: str) -> bool:
    return bool(_SENSITIVE_KEY.search(key.strip().lower().replace("-", "_")))


def redact_text(text: str) -> str:
    """Return *text* with every token-, key- or password-shaped part masked."""
    if _ANY_GUARD.search(text) is None:
        return text
    for guard, pattern, replacement in _VALUE_PATTERNS:
        if guard.search(text) is not None:
            text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """Return *value* with sensitive keys and secret-shaped strings masked, recursively."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_sensitive_key(key) and item is not None else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(value.decode("utf-8", "replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else would be rendered with str()/repr() later: render it now, then mask.
    return redact_text(str(value))


def redact_event(_logger: object, _method: str, event_dict: Any) -> Any:
    """Mask secrets in a structlog event dict (a processor: put it just before the renderer)."""
    return redact(event_dict)
