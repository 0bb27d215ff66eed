"""integration_service: the composition root of integration-service.

The only package that knows every concrete adapter: it reads the configuration
(:mod:`~integration_service.settings`), builds the object graph in one dependency-injector
container (:mod:`~integration_service.container`), and runs it from the command line
(:mod:`~integration_service.cli`, ``python -m integration_service``). Importing it does nothing:
no environment reads, no logging setup, no engines.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("integration-service")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
