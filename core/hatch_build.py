"""Build integration-core from the repository's ``src/integration_core``, one level up.

Hatchling selects files inside the project root only, and the core's code stays in
``../src/integration_core`` where every tool of the repository looks for it. This hook
force-includes it: as ``src/integration_core`` in the sdist (so a wheel built from the sdist
finds it through the wheel target's ``only-include``), and as ``integration_core`` in a wheel
built straight from the repository. Editable installs need nothing: ``dev-mode-dirs`` points
at ``../src``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "integration_core"


class CoreSourcesHook(BuildHookInterface):
    """Point the sdist and the wheel at the core package wherever it is."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the package to *build_data* unless the selected files already hold it."""
        root = Path(self.root)
        unpacked = root / "src" / PACKAGE
        if unpacked.is_dir():
            return  # an unpacked sdist: only-include already selects src/integration_core
        repository = root.parent / "src" / PACKAGE
        if not repository.is_dir():
            message = f"{PACKAGE} is neither in {unpacked} nor in {repository}"
            raise FileNotFoundError(message)
        if self.target_name == "sdist":
            build_data["force_include"][str(repository)] = f"src/{PACKAGE}"
        elif version == "standard":
            build_data["force_include"][str(repository)] = PACKAGE
