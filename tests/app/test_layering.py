"""Layering: the core imports neither Flask nor SQLAlchemy; persistence imports no Flask."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "flask_okta_scim"
WEB = {"flask", "flask_login", "flask_sqlalchemy", "flask_wtf", "werkzeug"}
RULES = {
    # package directory: the top-level modules it may not import
    "core": WEB | {"sqlalchemy"},
    "scim": WEB | {"sqlalchemy"},
    "saml": WEB | {"sqlalchemy"},
    "sqla": WEB - {"werkzeug"},
}


def forbidden_imports(source: str, forbidden: set[str]) -> list[str]:
    """Return the absolute imports in ``source`` whose top-level package is in ``forbidden``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.extend(n for n in names if n.split(".")[0] in forbidden)
    return found


def modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(RULES))
def test_layer_imports(package):
    files = modules(package)
    if package in ("core", "sqla"):
        assert files, f"flask_okta_scim/{package} should exist"
    offenders = {
        str(path.relative_to(PACKAGE)): bad
        for path in files
        if (bad := forbidden_imports(path.read_text(), RULES[package]))
    }
    assert offenders == {}


def test_relative_imports_cannot_smuggle_flask_into_the_core():
    """The core's relative imports stay inside the core (or reach the core from a sub-package)."""
    for path in modules("core"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, f"{path.name} imports from outside the core"


def test_the_check_catches_a_violation():
    source = "import os\nfrom flask import current_app\nimport sqlalchemy.orm\nfrom . import x\n"
    assert forbidden_imports(source, RULES["core"]) == ["flask", "sqlalchemy.orm"]
