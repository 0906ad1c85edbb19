"""The layers of custom_components/smart_care, read from the source (nothing is imported).

Rules (docs/architecture.md): no import cycle; every arrow points inward (wiring → clinic →
care/device → household → core/const); core imports no Home Assistant at all; only the
household (and the two wiring points named below) holds the synchronous store.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.module_loader import load_module

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "custom_components" / "smart_care" / "core"

GRAPH = load_module("import_graph", ROOT / "scripts" / "import_graph.py")
EDGES = GRAPH.graph()


def test_the_graph_sees_the_wiring() -> None:
    # A reader that found nothing would pass every rule below.
    assert "household.runtime" in EDGES["household.people"]
    assert {"household.runtime", "care.alerts", "clinic.bridge"} <= set(EDGES["types"])
    assert EDGES["clinic.bridge"]["care.alerts"] is True  # under TYPE_CHECKING
    assert EDGES["clinic.webhook"]["clinic.types"] is False


def test_no_import_cycle() -> None:
    assert GRAPH.cycles(EDGES) == []


def test_no_loop_even_through_type_only_imports() -> None:
    # A back-reference under TYPE_CHECKING is still two modules that must change together.
    assert GRAPH.cycles(EDGES, typing=True) == []


def test_every_arrow_points_inward() -> None:
    assert GRAPH.outward(EDGES) == []


def test_the_household_imports_no_feature() -> None:
    for source, targets in EDGES.items():
        if source.startswith(("household", "core")):
            assert not any(t.startswith(("care", "clinic", "device")) for t in targets), source


def test_a_break_is_reported() -> None:
    # The rule itself, on a made-up graph: household → care is outward, core → household too.
    edges = {"household.runtime": {"care.alerts": False}, "core.x": {"household.runtime": True}}
    edges |= {"care.alerts": {}, "clinic.bridge": {"care.alerts": False}}
    assert GRAPH.outward(edges) == [
        ("core.x", "household.runtime"),
        ("household.runtime", "care.alerts"),
    ]
    assert GRAPH.cycles({"a": {"b": False}, "b": {"a": False}}) == [["a", "b"]]
    assert GRAPH.cycles({"a": {"b": True}, "b": {"a": False}}) == []
    assert GRAPH.cycles({"a": {"b": True}, "b": {"a": False}}, typing=True) == [["a", "b"]]


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_imports_no_homeassistant(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        assert not any(n.split(".")[0] == "homeassistant" for n in names), path


# Who may hold the synchronous store itself (everyone else awaits household.record):
# __init__ hands it to the household; the clinic bridge hands it to the pure outbox.
STORE_HOLDERS = {"__init__.py", "clinic/bridge.py"}
PACKAGE = CORE.parent


def _store_reads(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "store"]


def test_only_the_household_reaches_the_store() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name.startswith(("household/", "core/")) or name in STORE_HOLDERS:
            continue
        if lines := _store_reads(path):
            found[name] = lines
    assert found == {}
    # The rule sees what it forbids: the holders do reach it.
    assert all(_store_reads(PACKAGE / name) for name in STORE_HOLDERS)
