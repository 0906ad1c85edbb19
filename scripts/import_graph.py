"""Print the import graph of custom_components/smart_care, its cycles and layer breaks.

Reads the source with ast (imports nothing), so it runs on any checkout:
    python3 scripts/import_graph.py            # every module and what it imports
    python3 scripts/import_graph.py --summary  # only cycles and layer breaks
Imports under ``if TYPE_CHECKING:`` are arrows too (marked ``(t)``): they must respect the
layers, and no loop may close through them either (a type-only back-reference still ties two
modules together: name a Protocol in a module both depend on instead, as clinic/types.py does).
The layer rules are in docs/architecture.md; tests/project/test_import_graph.py enforces them.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
import sys

COMPONENT = Path(__file__).resolve().parents[1] / "custom_components" / "smart_care"
PACKAGE = "custom_components.smart_care"

# Layer of each top-level part; an import may point to the same or a lower number only.
# care, clinic and device are features: clinic may use care (it sends alerts and answers),
# nothing else crosses between features.
LAYERS: dict[str, int] = {
    "const": 0,
    "core": 0,
    "household": 1,
    "care": 2,
    "device": 2,
    "clinic": 3,
}
TOP = 4  # __init__, platforms, services: the wiring


def module_name(path: Path, root: Path) -> str:
    """Dotted name relative to the component ('' for its __init__)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    """Whether the file is a package's __init__."""
    return path.name == "__init__.py"


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def graph(root: Path = COMPONENT) -> dict[str, dict[str, bool]]:
    """Module -> {imported module: only under TYPE_CHECKING}."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    edges: dict[str, dict[str, bool]] = {name: {} for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = _type_checking_lines(tree)
        package = name if is_package(path) else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:  # "from . import webhook" names a module
                    sub = f"{stem}.{alias.name}" if stem else alias.name
                    targets.append(sub if sub in files else stem)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                targets.append(node.module[len(PACKAGE) + 1 :])  # type: ignore[index]
            elif isinstance(node, ast.Import):
                targets += [
                    a.name[len(PACKAGE) + 1 :] for a in node.names if a.name.startswith(PACKAGE)
                ]
            for target in targets:
                if target in files and target != name:
                    only_typing = node.lineno in typing_only
                    edges[name][target] = edges[name].get(target, True) and only_typing
    return edges


def cycles(edges: dict[str, dict[str, bool]], typing: bool = False) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan).

    ``typing``: follow TYPE_CHECKING arrows too.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt, only_typing in edges[node].items():
            if only_typing and not typing:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> int:
    """The layer number of a module (see LAYERS)."""
    return LAYERS.get(module.split(".")[0], TOP) if module else TOP


def outward(edges: dict[str, dict[str, bool]]) -> list[tuple[str, str]]:
    """Imports that point to a higher layer, or between two features other than clinic → care."""
    bad = []
    for source, targets in edges.items():
        for target in targets:
            a, b = layer(source), layer(target)
            if b > a or (a == b == 2 and source.split(".")[0] != target.split(".")[0]):
                bad.append((source, target))
    return sorted(bad)


def main() -> int:
    """Print the graph; exit 1 when there is a cycle (type-only too) or a layer break."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="only cycles and layer breaks")
    parser.add_argument("--root", type=Path, default=COMPONENT, help="the component folder")
    args = parser.parse_args()
    edges = graph(args.root)
    if not args.summary:
        for source in sorted(edges):
            names = [f"{t}{' (t)' if edges[source][t] else ''}" for t in sorted(edges[source])]
            print(f"{source or '__init__'} -> {', '.join(names) or '-'}")
    found = cycles(edges)
    typed = [c for c in cycles(edges, typing=True) if c not in found]
    bad = outward(edges)
    arrows = sum(len(t) for t in edges.values())
    print(
        f"\n{len(edges)} modules, {arrows} arrows, {len(found)} import cycle(s), "
        f"{len(bad)} layer break(s), {len(typed)} type-only loop(s)"
    )
    for component in found:
        print(f"cycle: {', '.join(m or '__init__' for m in component)}")
    for component in typed:
        print(f"type-only loop: {', '.join(m or '__init__' for m in component)}")
    for source, target in bad:
        print(f"layer break: {source or '__init__'} -> {target}")
    return 1 if found or typed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
