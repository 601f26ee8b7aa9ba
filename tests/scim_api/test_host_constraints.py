"""A host's own constraint that refuses a change (a table with a foreign key to the account and
no cascade) is a server error, logged and audited, with nothing changed; not a 409 asking Okta
to retry a change that can never be made."""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy import insert

from sample_app.models import Account
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import user_body

HOLDS = MetaData()
legal_hold = Table(
    "legal_hold",
    HOLDS,
    Column("id", Integer, primary_key=True),
    # No ondelete: the host keeps the account as long as a hold references it.
    Column("account_id", Integer, ForeignKey(Account.__table__.c.id), nullable=False),
)


@pytest.fixture
def holds(app: Flask) -> Iterator[None]:
    with app.app_context():
        HOLDS.create_all(db.engine)
    yield
    with app.app_context():
        db.session.remove()
        HOLDS.drop_all(db.engine)


def held_user(app: Flask, scim: ScimClient) -> str:
    created = scim.post("/Users", user_body("held@atko.com"))
    assert created.status_code == 201
    with app.app_context():
        account = okta.directory().find_account("held@atko.com")
        db.session.execute(insert(legal_hold).values(account_id=account.id))
        db.session.commit()
    return t.cast(str, created.get_json()["id"])


def test_a_host_foreign_key_refusing_a_deletion_is_a_logged_audited_500(
    app: Flask, scim: ScimClient, holds: None, caplog: pytest.LogCaptureFixture
) -> None:
    scim_id = held_user(app, scim)
    with caplog.at_level(logging.ERROR, logger="flask_okta_scim.scim"):
        answer = scim.patch(
            f"/Users/{scim_id}", patch_body({"op": "replace", "value": {"active": False}})
        )
    assert_scim_error(answer, 500)
    assert "IntegrityError" in caplog.text  # the cause is in the log
    assert scim.get(f"/Users/{scim_id}").get_json()["active"] is True  # nothing changed
    with app.app_context():
        directory = okta.directory()
        org = directory.get_organization("Acme")
        failures = [r for r in directory.audit_log(org) if r.outcome == "failure"]
        assert failures and failures[0].detail["status"] == 500
        assert directory.find_account("held@atko.com") is not None


def test_a_concurrent_duplicate_is_still_a_conflict(app: Flask, scim: ScimClient) -> None:
    """The other side of the line: a unique key taken first stays a 409 (retry)."""
    assert scim.post("/Users", user_body("twice@atko.com")).status_code == 201
    assert_scim_error(scim.post("/Users", user_body("TWICE@atko.com")), 409, "uniqueness")
