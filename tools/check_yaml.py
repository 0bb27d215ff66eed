"""Fail if any YAML file of the repository does not parse.

Compose, Prometheus and Cloud Run files are only read by tools that CI does not run (Docker,
gcloud), so a stray tab or a bad indent would otherwise reach an operator first. The ``lint`` nox
session runs it. Needs PyYAML. Skips virtual environments, caches and other hidden directories
(but not ``.github``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"node_modules", "venv", "build", "dist", "site-packages", "__pycache__"}
VISIBLE = {".github"}


def yaml_files(root: Path) -> Iterator[Path]:
    """Yield every ``*.yml`` and ``*.yaml`` under *root*, outside skipped directories."""
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts[:-1]
        hidden = any(part.startswith(".") and part not in VISIBLE for part in parts)
        if hidden or SKIP.intersection(parts):
            continue
        if path.suffix in {".yml", ".yaml"} and path.is_file():
            yield path


def main() -> int:
    """Parse every file (all documents of each); exit 1 listing those that fail."""
    files = list(yaml_files(ROOT))
    problems = []
    for path in files:
        try:
            list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            problems.append(f"{path.relative_to(ROOT)}: {exc}")
    if problems:
        sys.stderr.write("YAML files that do not parse:\n")
        sys.stderr.writelines(f"  - {problem}\n" for problem in problems)
        return 1
    sys.stdout.write(f"{len(files)} YAML files parse.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
