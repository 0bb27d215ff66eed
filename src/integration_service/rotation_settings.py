"""The token-rotation settings: how often the scheduler runs, probes and retries.

``TOKEN_REFRESH_MARGIN`` (the window before expiry) is read with the platform settings, where
the contract lists it; everything else about rotation is here.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from integration_service.env import EnvReader


@attrs.frozen(kw_only=True)
class RotationSettings:
    """How the token-rotation scheduler of a ``worker``/``all`` process runs.

    A pass runs every *interval* (``TOKEN_ROTATION_INTERVAL``); a token that never expires is
    probed every *probe_interval* (``TOKEN_PROBE_INTERVAL``); a failed refresh waits
    *cooldown* (``TOKEN_REFRESH_COOLDOWN``), doubling per failure up to *max_cooldown*, and
    after *max_failures* in a row (``TOKEN_REFRESH_MAX_FAILURES``) the integration needs
    reauthorization.
    """

    interval: timedelta = timedelta(hours=1)
    probe_interval: timedelta = timedelta(hours=24)
    cooldown: timedelta = timedelta(hours=1)
    max_cooldown: timedelta = timedelta(hours=24)
    max_failures: int = 5


def read_rotation(reader: EnvReader) -> RotationSettings:
    """Read ``TOKEN_ROTATION_INTERVAL``, ``TOKEN_PROBE_INTERVAL`` and the refresh retries."""
    defaults = RotationSettings()
    cooldown = reader.duration("TOKEN_REFRESH_COOLDOWN", defaults.cooldown, positive=True)
    return RotationSettings(
        interval=reader.duration("TOKEN_ROTATION_INTERVAL", defaults.interval, positive=True),
        probe_interval=reader.duration(
            "TOKEN_PROBE_INTERVAL", defaults.probe_interval, positive=True
        ),
        cooldown=cooldown,
        # The cap never undercuts the first wait, so a long cooldown is still honoured.
        max_cooldown=max(defaults.max_cooldown, cooldown),
        max_failures=reader.integer(
            "TOKEN_REFRESH_MAX_FAILURES", defaults.max_failures, minimum=1, maximum=100
        ),
    )
