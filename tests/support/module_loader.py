"""Load a Python file by path as a module (demo payloads, decode vectors, the graph script)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
import sys
from types import ModuleType


def load_module(name: str, path: Path) -> ModuleType:
    """Import ``path`` as module ``name`` without importing any package around it."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
