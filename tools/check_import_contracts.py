"""Prove that the import-linter contracts in pyproject.toml catch what they forbid.

A contract that never fails is worth nothing: a typo in a module name, a renamed package or a
changed import-linter default can make one pass vacuously. This script copies ``src/`` to a
temporary directory, plants a ``_contract_probe`` module that breaks every rule of every contract
(the core importing each forbidden framework, each adapter importing the next, ...), runs
``lint-imports`` over the copy and fails unless each planted import is reported under the contract
it breaks. The real tree is never touched.

Usage (the ``imports`` nox session runs it)::

    python tools/check_import_contracts.py [--pyproject pyproject.toml] [--src src]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE = "_contract_probe"
BROKEN_HEADING = "Broken contracts"


class ProbeError(Exception):
    """The contracts could not be probed, or a planted violation went unreported."""


@dataclass(frozen=True)
class Probe:
    """One import that *contract* must report: *importer* imports *imported*."""

    contract: str
    importer: str
    imported: str


def plan(contract: dict[str, Any]) -> Iterator[Probe]:
    """Yield the violations to plant for one contract of the ``[tool.importlinter]`` table."""
    name = str(contract["name"])
    kind = contract.get("type")
    if kind == "forbidden":
        for source in contract["source_modules"]:
            for forbidden in contract["forbidden_modules"]:
                yield Probe(name, source, forbidden)
    elif kind == "independence":
        modules = list(contract["modules"])
        # A ring: every module imports one other and is imported by one other.
        for importer, imported in zip(modules, modules[1:] + modules[:1], strict=True):
            yield Probe(name, importer, imported)
    elif kind == "layers":
        containers = list(contract.get("containers", [""]))
        layers = [str(layer) for layer in contract["layers"]]
        if any(set(layer) & set("|:()") for layer in layers):
            raise ProbeError(f"contract {name!r}: add a probe for its layer syntax here")
        for container in containers:
            prefix = f"{container}." if container else ""
            # Each lower layer imports the layer just above it.
            for higher, lower in itertools.pairwise(layers):
                yield Probe(name, prefix + lower, prefix + higher)
    else:
        raise ProbeError(f"contract {name!r} has type {kind!r}: teach this script to probe it")


def plant(src: Path, probes: Sequence[Probe]) -> None:
    """Write every probe's import into the copy of the source tree at *src*."""
    by_importer: dict[str, list[str]] = {}
    for probe in probes:
        by_importer.setdefault(probe.importer, []).append(probe.imported)
    for importer, imported in by_importer.items():
        lines = "".join(
            f"import {module}  # planted by {Path(__file__).name}\n" for module in imported
        )
        package = src.joinpath(*importer.split("."))
        module = package.with_suffix(".py")
        if (package / "__init__.py").is_file():
            (package / f"{PROBE}.py").write_text(lines, encoding="utf-8")
        elif module.is_file():
            with module.open("a", encoding="utf-8") as handle:
                handle.write("\n" + lines)
        else:
            raise ProbeError(f"{importer} is named in a contract but is not in {src}")


def expected_line(probe: Probe, src: Path) -> str:
    """Return the text that import-linter prints for *probe*'s direct import."""
    package = src.joinpath(*probe.importer.split("."))
    importer = f"{probe.importer}.{PROBE}" if package.is_dir() else probe.importer
    return f"{importer} -> {probe.imported}"


def broken_sections(output: str, contracts: Sequence[str]) -> dict[str, str]:
    """Split the "Broken contracts" part of lint-imports' report by contract name."""
    _, found, report = output.partition(BROKEN_HEADING)
    if not found:
        return {}
    starts: list[tuple[int, str]] = []
    for name in contracts:
        heading = f"\n{name}\n{'-' * len(name)}\n"
        index = report.find(heading)
        if index >= 0:
            starts.append((index, name))
    starts.sort()
    sections: dict[str, str] = {}
    for position, (index, name) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(report)
        sections[name] = report[index:end]
    return sections


def lint_imports() -> str:
    """Return the path of the lint-imports beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.is_file() else shutil.which("lint-imports")
    if found is None:
        raise ProbeError("lint-imports not found: install the project's `imports` extra")
    return found


def check(pyproject: Path, src: Path) -> list[str]:
    """Plant the probes in a copy of *src*, run lint-imports, return what went unreported."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = list(config.get("contracts", []))
    if not contracts:
        raise ProbeError(f"no [[tool.importlinter.contracts]] in {pyproject}")
    probes = [probe for contract in contracts for probe in plan(contract)]
    roots = config.get("root_packages") or [config["root_package"]]
    with tempfile.TemporaryDirectory(prefix="import-contracts-") as tmp:
        copy = Path(tmp) / "src"
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        missing = [root for root in roots if not (copy / root / "__init__.py").is_file()]
        if missing:
            raise ProbeError(f"root packages missing from {src}: {', '.join(missing)}")
        plant(copy, probes)
        shutil.copy2(pyproject, Path(tmp) / "pyproject.toml")
        returncode, output = run_lint_imports(Path(tmp), copy)
        if returncode != 1:
            return [f"lint-imports exited {returncode}, expected 1 (contracts broken):\n{output}"]
        names = [str(contract["name"]) for contract in contracts]
        problems = unreported(probes, broken_sections(output, names), copy)
        if problems:
            problems.append(f"lint-imports said:\n{output}")
        return problems


def run_lint_imports(workdir: Path, src: Path) -> tuple[int, str]:
    """Run lint-imports in *workdir* over the packages in *src*; return its exit code and output."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    # Our own tool on a config we just copied: nothing untrusted reaches the command line.
    result = subprocess.run(  # noqa: S603
        [lint_imports(), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def unreported(probes: Sequence[Probe], sections: dict[str, str], src: Path) -> list[str]:
    """Return a line for each contract or planted import missing from the broken *sections*."""
    contracts = sorted({probe.contract for probe in probes} - sections.keys())
    problems = [f"contract not reported broken: {name}" for name in contracts]
    problems += [
        f"{probe.contract}: planted `{expected_line(probe, src)}` was not reported"
        for probe in probes
        if probe.contract in sections and expected_line(probe, src) not in sections[probe.contract]
    ]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; exit 0 when every planted violation was caught."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--src", type=Path, default=Path("src"))
    args = parser.parse_args(argv)
    try:
        problems = check(args.pyproject, args.src)
    except ProbeError as exc:
        sys.stderr.write(f"check_import_contracts: {exc}\n")
        return 1
    if problems:
        sys.stderr.write("Import contracts do NOT catch what they forbid:\n")
        sys.stderr.writelines(f"  - {problem}\n" for problem in problems)
        return 1
    sys.stdout.write("Every import contract caught every planted violation.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
