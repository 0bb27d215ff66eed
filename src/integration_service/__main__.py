"""Run the command line as ``python -m integration_service``, same as ``integration-service``."""

from __future__ import annotations

from integration_service.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
