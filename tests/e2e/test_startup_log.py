"""What ``serve`` tells an operator at start-up about the original's variables."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

StartService = Callable[..., Any]


def test_start_up_logs_the_store_and_one_warning_per_ignored_variable(
    start_service: StartService,
) -> None:
    service = start_service(
        TAWKTO_API_KEY="tawk-startup-key", TELEGRAM_VERIFY_TOKEN="tg-startup-token"
    )
    service.wait_for_health(200)
    assert service.stop(signal.SIGTERM) == 0

    lines = service.log_lines()
    configuration = [line for line in lines if line["event"] == "configuration"]
    assert len(configuration) == 1
    assert configuration[0]["credential_store"] == "database"
    assert configuration[0]["credential_store_chosen_by"] == "default"
    assert configuration[0]["mercadopago_environment"] == "production"
    assert configuration[0]["role"] == "all"
    warnings = [line["event"] for line in lines if line.get("startup_warning")]
    for name in ("TAWKTO_API_KEY", "TELEGRAM_VERIFY_TOKEN"):
        assert len([w for w in warnings if w.startswith(f"{name} ")]) == 1, warnings
    assert "tawk-startup-key" not in service.output()
    assert "tg-startup-token" not in service.output()
