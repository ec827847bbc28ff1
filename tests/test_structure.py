"""The code's shape, checked: no view module imports another (what pages share lives in
non-view modules), and migrations do not run live app code."""

import ast
import importlib
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import ROOT

pytestmark = pytest.mark.unit


def _view_modules(patterns: list[URLPattern | URLResolver]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found |= _view_modules(pattern.url_patterns)
        else:
            found.add(pattern.callback.__module__)
    return found


def _imported(module: str) -> set[str]:
    """The project modules `module` imports (at its top level or inside functions)."""
    source = Path(importlib.import_module(module).__file__ or "").read_text()
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"{module.rsplit('.', 1)[0]}.{node.module}"
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_no_view_module_imports_another() -> None:
    """The studio's views (the simulators, a separate app, share their API helpers)."""
    views = {
        name
        for name in _view_modules(get_resolver().url_patterns)
        if name.startswith("generations") and not name.startswith("generations.simulators")
    }
    assert {"generations.views", "generations.gallery_views", "generations.board_views"} <= views
    crossing = {module: sorted(_imported(module) & (views - {module})) for module in sorted(views)}
    assert {module: found for module, found in crossing.items() if found} == {}


def test_migrations_import_no_live_app_code() -> None:
    """Frozen copies instead (Django's advice); the one exception is a FileField's upload_to,
    which Django's migrations must name by its import path."""
    for path in sorted((ROOT / "generations").glob("**/migrations/0*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("generations"):
                pytest.fail(f"{path.name} imports {node.module}")
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("generations"):
                        assert alias.name == "generations.models", path.name
                        assert "upload_to=generations.models.input_path" in path.read_text()
