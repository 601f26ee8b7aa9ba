"""The host's own fixture: the application on a fresh SQLite database, one per test.

The ``okta_*`` fixtures come from the Flask-Okta-SCIM pytest plugin (installing
the package registers it); the one thing they need from this suite is ``app``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from myapp import create_app
from myapp import db


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The application on an empty database of its own (its tables created)."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite'}",
            "OKTA_SCIM_BASE_URL": "https://app.example.test",
            # A team Okta deletes is quarantined; here "flask okta-scim purge" may delete
            # it at once instead of after the 30 days' grace.
            "OKTA_SCIM_TEAM_QUARANTINE_DAYS": 0,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()
