"""Fail on any import cycle between the modules under ``src/``, and prove the check bites.

A cycle (``a`` imports ``b``, ``b`` imports ``a``, directly or through others) means neither
module can be read, tested or moved without the other; import-linter's contracts only see the
arrows between packages, not those inside one. This script reads every module under ``src/``
with :mod:`ast` (it imports nothing), builds the graph of our own imports and reports each
strongly connected component of more than one module.

What counts: every ``import``/``from ... import`` that runs, at module level or inside a
function or method (a deferred import only postpones the cycle). What does not: imports under
``if TYPE_CHECKING:``, which never run and only serve annotations.

``from package import name`` is an arrow to ``package.name`` when that is a module, else to
``package``. Only the arrows written count: ``import a.b.c`` is an arrow to ``a.b.c``, not also
to the packages ``a`` and ``a.b`` that Python runs first.

Before reading the real tree, ``--self-test`` (the ``imports`` nox session runs it) copies
``src/`` to a temporary directory, plants a two-module cycle, a three-module cycle and two
arrows that must not count (one under ``TYPE_CHECKING``, one that only looks like an import),
and fails unless exactly the planted cycles are reported.

Usage::

    python tools/check_import_cycles.py [--src src] [--self-test]
"""

from __future__ import annotations

import argparse
import ast
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

PROBE = "_cycle_probe"


def modules(src: Path) -> dict[str, Path]:
    """Return every module under *src* by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if "__pycache__" in parts or not (src / parts[0] / "__init__.py").is_file():
            continue  # not inside one of our packages (a stray script, a cache)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Yield every import statement in *tree* that can run (not under ``if TYPE_CHECKING:``)."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)  # the else branch does run
            continue
        pending.extend(ast.iter_child_nodes(node))


def _base(module: str, node: ast.ImportFrom, is_package: bool) -> str | None:
    """Return the absolute module a ``from`` import names, resolving a relative one."""
    if not node.level:
        return node.module
    parts = module.split(".")
    package = parts if is_package else parts[:-1]
    if node.level - 1 > len(package):
        return None
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor) or None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Return the modules of *known* that *module* (at *path*) imports when it runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = _base(module, node, is_package)
            if base is None:
                continue
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for imported in names:
            # `import a.b.c` where only a.b is ours and c is a name: walk up to a known module.
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                targets.add(target)
    return targets


def graph(src: Path) -> dict[str, set[str]]:
    """Return each module under *src* with the set of our modules it imports."""
    known = modules(src)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return every strongly connected component of more than one module, each sorted.

    Tarjan's algorithm, iterative: the import graph of a big tree is deeper than Python's
    default recursion limit is comfortable with.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def describe(component: list[str], edges: dict[str, set[str]]) -> str:
    """Return one line per arrow inside *component*: what to break."""
    members = set(component)
    arrows = [
        f"    {source} -> {target}"
        for source in component
        for target in sorted(edges[source] & members)
    ]
    return "\n".join([f"  cycle of {len(component)} modules:", *arrows])


def self_test(src: Path) -> list[str]:
    """Plant known cycles and decoys in a copy of *src*; return what the check got wrong."""
    roots = sorted(path.parent.name for path in src.glob("*/__init__.py"))
    if not roots:
        return [f"no packages under {src}"]
    root = roots[0]
    with tempfile.TemporaryDirectory(prefix="import-cycles-") as tmp:
        copy = Path(tmp) / "src"
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        probe = copy / root / PROBE
        probe.mkdir()
        files = {
            "__init__.py": "",
            # a <-> b at module level, through both import forms
            "a.py": f"from {root}.{PROBE} import b\n",
            "b.py": f"import {root}.{PROBE}.a\n",
            # c -> d -> e -> c, the last arrow deferred into a function and relative
            "c.py": "from . import d\n",
            "d.py": f"from {root}.{PROBE}.e import VALUE\n",
            "e.py": "VALUE = 1\n\n\ndef later():\n    from .c import d\n    return d\n",
            # decoys: f -> g at run time; g -> f only for annotations or in a string
            "f.py": f"from {root}.{PROBE} import g\n",
            "g.py": (
                "from typing import TYPE_CHECKING\n\n"
                f"if TYPE_CHECKING:\n    from {root}.{PROBE} import f\n\n"
                f"NOTE = 'import {root}.{PROBE}.f'\n"
            ),
        }
        for name, text in files.items():
            (probe / name).write_text(text, encoding="utf-8")
        prefix = f"{root}.{PROBE}."
        planted = [[f"{prefix}a", f"{prefix}b"], [f"{prefix}c", f"{prefix}d", f"{prefix}e"]]
        edges = graph(copy)
        probed = [c for c in cycles(edges) if any(m.startswith(prefix) for m in c)]
        if probed != planted:
            return [f"planted cycles {planted}, the check found {probed}"]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check (and first the self-test, if asked); exit 0 when src has no cycle."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path("src"))
    parser.add_argument("--self-test", action="store_true", help="first prove the check bites")
    args = parser.parse_args(argv)
    if args.self_test:
        problems = self_test(args.src)
        if problems:
            sys.stderr.write("The import-cycle check does NOT catch what it should:\n")
            sys.stderr.writelines(f"  - {problem}\n" for problem in problems)
            return 1
        sys.stdout.write("Self-test: every planted cycle was caught, no decoy was.\n")
    edges = graph(args.src)
    found = cycles(edges)
    if found:
        sys.stderr.write(f"{len(found)} import cycle(s) in {args.src}:\n")
        sys.stderr.writelines(describe(component, edges) + "\n" for component in found)
        return 1
    sys.stdout.write(f"No import cycle among the {len(edges)} modules in {args.src}.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
