"""A host's own constraint that refuses a change (a check on its account table) is a server
error, logged and audited, with nothing changed; not a 409 asking Okta to retry a change that
can never be made. (A foreign key refusing an account's deletion is not a failure at all: the
account is disabled instead, tests/scim_api/test_removal.py.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import user_body

FORBIDDEN = "Forbidden Name"


@pytest.fixture
def checked(app: Flask, backend: str) -> Iterator[None]:
    """The host refuses one display name, as a check constraint (a trigger on SQLite)."""
    with app.app_context():
        if backend == "sqlite":
            db.session.execute(
                text(
                    "CREATE TRIGGER no_forbidden BEFORE UPDATE ON account "
                    f"WHEN NEW.display_name = '{FORBIDDEN}' "
                    "BEGIN SELECT RAISE(ABORT, 'display name refused'); END"
                )
            )
        else:
            db.session.execute(
                text(
                    "ALTER TABLE account ADD CONSTRAINT no_forbidden "
                    f"CHECK (display_name IS DISTINCT FROM '{FORBIDDEN}')"
                )
            )
        db.session.commit()
    yield
    with app.app_context():
        if backend == "sqlite":
            db.session.execute(text("DROP TRIGGER no_forbidden"))
        else:
            db.session.execute(text("ALTER TABLE account DROP CONSTRAINT no_forbidden"))
        db.session.commit()


def test_a_host_constraint_refusing_a_change_is_a_logged_audited_500(
    app: Flask, scim: ScimClient, checked: None, caplog: pytest.LogCaptureFixture
) -> None:
    created = scim.post("/Users", user_body("held@atko.com"))
    scim_id = created.get_json()["id"]
    with caplog.at_level(logging.ERROR, logger="flask_okta_scim.scim"):
        answer = scim.patch(
            f"/Users/{scim_id}",
            patch_body({"op": "replace", "value": {"displayName": FORBIDDEN}}),
        )
    assert_scim_error(answer, 500)
    assert "IntegrityError" in caplog.text  # the cause is in the log
    assert scim.get(f"/Users/{scim_id}").get_json()["displayName"] != FORBIDDEN
    with app.app_context():
        directory = okta.directory()
        org = directory.get_organization("Acme")
        failures = [r for r in directory.audit_log(org) if r.outcome == "failure"]
        assert failures and failures[0].detail["status"] == 500


def test_a_concurrent_duplicate_is_still_a_conflict(app: Flask, scim: ScimClient) -> None:
    """The other side of the line: a unique key taken first stays a 409 (retry)."""
    assert scim.post("/Users", user_body("twice@atko.com")).status_code == 201
    assert_scim_error(scim.post("/Users", user_body("TWICE@atko.com")), 409, "uniqueness")
