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
autodoc_member_order = "bysource"
html_theme = "furo"
html_title = "Flask-Okta-SCIM"
html_static_path = ["_static"]
nitpicky = False
