"""The token-rotation variables: defaults, parsing, refusals, and the policy built from them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from integration_service.wiring import rotation_policy

from .settings_support import PROD, load, problems_of


def test_defaults(tmp_path: Path) -> None:
    settings = load(PROD, tmp_path)

    policy = rotation_policy(settings)

    assert settings.rotation.interval == timedelta(hours=1)
    assert policy.margin == timedelta(days=10)
    assert policy.probe_interval == timedelta(hours=24)
    assert policy.cooldown == timedelta(hours=1)
    assert policy.max_cooldown == timedelta(hours=24)
    assert policy.max_failures == 5


def test_every_variable_is_read(tmp_path: Path) -> None:
    env = {
        **PROD,
        "TOKEN_REFRESH_MARGIN": "36h",
        "TOKEN_ROTATION_INTERVAL": "15m",
        "TOKEN_PROBE_INTERVAL": "6h",
        "TOKEN_REFRESH_COOLDOWN": "90s",
        "TOKEN_REFRESH_MAX_FAILURES": "3",
    }

    settings = load(env, tmp_path)
    policy = rotation_policy(settings)

    assert settings.rotation.interval == timedelta(minutes=15)
    assert policy.margin == timedelta(hours=36)
    assert policy.probe_interval == timedelta(hours=6)
    assert policy.cooldown == timedelta(seconds=90)
    assert policy.max_failures == 3


def test_a_cooldown_longer_than_the_cap_raises_the_cap(tmp_path: Path) -> None:
    settings = load({**PROD, "TOKEN_REFRESH_COOLDOWN": "2d"}, tmp_path)

    assert rotation_policy(settings).cooldown_after(1) == timedelta(days=2)


def test_bad_values_are_all_reported(tmp_path: Path) -> None:
    env = {
        **PROD,
        "TOKEN_ROTATION_INTERVAL": "0s",
        "TOKEN_PROBE_INTERVAL": "soon",
        "TOKEN_REFRESH_COOLDOWN": "0",
        "TOKEN_REFRESH_MAX_FAILURES": "0",
    }

    problems = problems_of(env, tmp_path)

    named = {problem.split(":", 1)[0] for problem in problems}
    assert named >= {
        "TOKEN_ROTATION_INTERVAL",
        "TOKEN_PROBE_INTERVAL",
        "TOKEN_REFRESH_COOLDOWN",
        "TOKEN_REFRESH_MAX_FAILURES",
    }
