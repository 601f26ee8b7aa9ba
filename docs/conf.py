"""Sphinx configuration for Flask-Okta-SCIM's documentation."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "Flask-Okta-SCIM"
author = "The Flask-Okta-SCIM authors"
copyright = "2026, " + author
release = version = "0.1.0.dev0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx_click",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
autodoc_typehints = "description"
# Only show types for parameters and return values that the docstring describes.
autodoc_typehints_description_target = "documented"
autodoc_member_order = "bysource"
html_theme = "furo"
html_title = "Flask-Okta-SCIM"
html_static_path = ["_static"]
nitpicky = False

# Autodoc inspects the mixins' ``declared_attr`` columns on the unmapped mixin
# classes, which makes SQLAlchemy warn; the warning says nothing about the docs.
import warnings  # noqa: E402

from sqlalchemy.exc import SAWarning  # noqa: E402

warnings.filterwarnings(
    "ignore", message="Unmanaged access of declarative attribute", category=SAWarning
)
