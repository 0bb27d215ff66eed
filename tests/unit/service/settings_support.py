"""What the settings tests share: valid keys, a production environment, load helpers."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from integration_core.errors import ConfigurationError
from integration_service.settings import Settings

KEY = bytes(range(32))
SIGNING = "whsec_" + base64.b64encode(b"s" * 32).decode()
PROD = {
    "ENVIRONMENT": "production",
    "JWT_SECRET": "a-production-jwt-secret-of-enough-length!",
    "ENCRYPTION_KEY": KEY.hex(),
}


def load(env: dict[str, str], tmp_path: Path) -> Settings:
    """Load settings from *env* as if started in *tmp_path*."""
    return Settings.from_env(env, cwd=tmp_path)


def problems_of(env: dict[str, str], tmp_path: Path) -> tuple[str, ...]:
    """Return the problems *env* is refused with."""
    with pytest.raises(ConfigurationError) as caught:
        load(env, tmp_path)
    return caught.value.problems
