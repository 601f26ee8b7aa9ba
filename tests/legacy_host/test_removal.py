"""SCIM deprovisioning in the legacy host, under both ``OKTA_SCIM_ACCOUNT_REMOVAL`` policies.

bob belongs to Acme only and wrote a document whose ``author_id`` is a plain foreign key
(no ``ON DELETE``): "disable" keeps his row, disabled; "delete" cannot delete it, so it
disables it too, answers 2xx and logs a warning. A person without such rows is deleted
under "delete". A person of two companies removed from one stays enabled.
"""

from __future__ import annotations

import json
import logging
import typing as t
from collections.abc import Callable

import pytest
from flask import Flask

from flask_okta_scim import signals
from tests.conftest import ScimClient
from tests.conftest import okta_cli_ok
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.legacy_host.app import Document
from tests.legacy_host.app import User
from tests.legacy_host.app import db
from tests.legacy_host.app import okta
from tests.legacy_host.conftest import ALICE_PASSWORD
from tests.legacy_host.conftest import BOB_PASSWORD
from tests.legacy_host.conftest import account_ids
from tests.legacy_host.conftest import execute
from tests.legacy_host.conftest import group_members
from tests.legacy_host.conftest import memberships
from tests.legacy_host.conftest import provisioning
from tests.legacy_host.conftest import scalar
from tests.legacy_host.conftest import sign_in
from tests.legacy_host.conftest import sql
from tests.legacy_host.conftest import whoami

DELETE_REFUSED = "account.delete_refused"


def create_user(scim: ScimClient, email: str) -> str:
    r = scim.post("/Users", user_body(email))
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(str, r.get_json(force=True)["id"])


def set_active(scim: ScimClient, scim_id: str, active: bool) -> t.Any:
    """Okta's deactivation / reactivation: a PATCH of ``active``."""
    r = scim.patch(f"/Users/{scim_id}", patch_body({"op": "replace", "value": {"active": active}}))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json(force=True)["active"] is active
    return r


def user_row(app: Flask, user_id: int) -> tuple[t.Any, ...] | None:
    """``(email_address, deactivated_at)`` of a user, or ``None`` when the row is gone."""
    rows = sql(app, "SELECT email_address, deactivated_at FROM users WHERE id = :u", u=user_id)
    return rows[0] if rows else None


def disabled_row(app: Flask, user_id: int) -> bool:
    """Whether the user's row is there, with ``deactivated_at`` set."""
    row = user_row(app, user_id)
    assert row is not None, f"users row {user_id} is gone"
    return row[1] is not None


def disabled(app: Flask, user_id: int) -> bool:
    with app.app_context():
        return okta.directory().is_disabled(db.session.get_one(User, user_id))


@pytest.fixture
def policy_app(make_app: Callable[..., Flask], request: pytest.FixtureRequest) -> Flask:
    return make_app(OKTA_SCIM_ACCOUNT_REMOVAL=request.param)


# -- "disable" -------------------------------------------------------------------------------


def test_disable_keeps_bob_disabled_and_ends_his_session(make_app, legacy):
    app = make_app()  # "disable" is the default
    scim = provisioning(app, legacy.acme)
    bob = create_user(scim, "bob@acme.test")
    browser = app.test_client()
    assert sign_in(browser, "bob@acme.test", BOB_PASSWORD).status_code == 200
    assert whoami(browser).status_code == 200

    with account_ids(signals.user_disabled) as heard, account_ids(signals.user_deleted) as deleted:
        set_active(scim, bob, False)
    assert disabled_row(app, legacy.bob)
    assert "bob@acme.test" not in memberships(app, legacy.acme)
    assert scalar(app, "SELECT author_id FROM documents WHERE id = :d", d=legacy.document) == (
        legacy.bob
    )
    assert disabled(app, legacy.bob)
    assert heard == [legacy.bob] and deleted == []
    assert whoami(browser).status_code == 401  # his session ended
    assert sign_in(browser, "bob@acme.test", BOB_PASSWORD).status_code == 401

    with account_ids(signals.user_enabled) as enabled:
        set_active(scim, bob, True)
    assert user_row(app, legacy.bob) == ("bob@acme.test", None)
    assert memberships(app, legacy.acme)["bob@acme.test"] == "member"
    assert not disabled(app, legacy.bob)
    assert enabled == [legacy.bob]
    assert scalar(app, "SELECT count(*) FROM users") == 3


def test_disable_then_a_new_create_of_the_same_user_name_finds_the_same_row(make_app, legacy):
    """Okta re-assigning the app after an unassignment POSTs the same userName again."""
    app = make_app(OKTA_SCIM_ACCOUNT_REMOVAL="disable")
    scim = provisioning(app, legacy.acme)
    alice = create_user(scim, "alice@acme.test")
    set_active(scim, alice, False)
    assert disabled_row(app, legacy.alice)
    assert group_members(app, legacy.engineering) == []
    r = scim.post("/Users", user_body("alice@acme.test"))
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    assert r.get_json(force=True)["id"] == alice
    assert user_row(app, legacy.alice) == ("alice@acme.test", None)
    # She is back with the default role: the old app's "owner" is not remembered.
    assert memberships(app, legacy.acme)["alice@acme.test"] == "member"
    assert scalar(app, "SELECT count(*) FROM users") == 3


def test_the_operators_disable_and_enable_write_the_hosts_column(legacy_app, legacy):
    """``flask okta-scim user disable`` / ``enable``: bob keeps his company, and the host's
    ``deactivated_at`` says what ``user show`` says."""
    browser = legacy_app.test_client()
    assert sign_in(browser, "bob@acme.test", BOB_PASSWORD).status_code == 200
    okta_cli_ok(legacy_app, "user", "disable", "bob@acme.test")
    assert disabled_row(legacy_app, legacy.bob)
    assert json.loads(okta_cli_ok(legacy_app, "user", "show", "bob@acme.test"))["disabled"] is True
    assert whoami(browser).status_code == 401
    assert sign_in(browser, "bob@acme.test", BOB_PASSWORD).status_code == 401
    assert memberships(legacy_app, legacy.acme)["bob@acme.test"] == "member"
    okta_cli_ok(legacy_app, "user", "enable", "bob@acme.test")
    assert user_row(legacy_app, legacy.bob) == ("bob@acme.test", None)
    assert sign_in(browser, "bob@acme.test", BOB_PASSWORD).status_code == 200


# -- "delete" --------------------------------------------------------------------------------


def test_delete_removes_a_person_no_host_row_points_at(make_app, legacy):
    """alice (pre-existing, owner, in Engineering) goes with her memberships."""
    app = make_app(OKTA_SCIM_ACCOUNT_REMOVAL="delete")
    scim = provisioning(app, legacy.acme)
    alice = create_user(scim, "alice@acme.test")
    with account_ids(signals.user_deleted) as heard:
        set_active(scim, alice, False)
    assert user_row(app, legacy.alice) is None
    assert heard == [legacy.alice]
    assert memberships(app, legacy.acme) == {"bob@acme.test": "member"}
    assert group_members(app, legacy.engineering) == []
    # Reactivation creates her again: a new row (the old one is gone).
    set_active(scim, alice, True)
    again = scalar(app, "SELECT id FROM users WHERE email_address = 'alice@acme.test'")
    assert again is not None and again != legacy.alice
    assert memberships(app, legacy.acme)["alice@acme.test"] == "member"


def test_delete_of_bob_blocked_by_the_hosts_foreign_key_disables_him(make_app, legacy, caplog):
    app = make_app(OKTA_SCIM_ACCOUNT_REMOVAL="delete")
    scim = provisioning(app, legacy.acme)
    bob = create_user(scim, "bob@acme.test")
    browser = app.test_client()
    assert sign_in(browser, "bob@acme.test", BOB_PASSWORD).status_code == 200
    with caplog.at_level(logging.WARNING, logger="flask_okta_scim"):
        set_active(scim, bob, False)
    assert disabled_row(app, legacy.bob)
    assert "bob@acme.test" not in memberships(app, legacy.acme)
    assert scalar(app, "SELECT author_id FROM documents") == legacy.bob
    refused = [r for r in caplog.records if getattr(r, "okta_scim_event", None) == DELETE_REFUSED]
    assert [(r.levelno, r.okta_scim_reference) for r in refused] == [
        (logging.WARNING, str(legacy.bob))
    ], caplog.text
    assert whoami(browser).status_code == 401
    # Reactivation: the same row, enabled.
    set_active(scim, bob, True)
    assert user_row(app, legacy.bob) == ("bob@acme.test", None)
    assert memberships(app, legacy.acme)["bob@acme.test"] == "member"


def test_delete_by_scim_delete_is_blocked_the_same_way(make_app, legacy):
    """Entra sends ``DELETE /Users/<id>``: also 2xx, bob disabled, his document kept."""
    app = make_app(OKTA_SCIM_ACCOUNT_REMOVAL="delete")
    scim = provisioning(app, legacy.acme)
    bob = create_user(scim, "bob@acme.test")
    r = scim.delete(f"/Users/{bob}")
    assert r.status_code == 204, r.get_data(as_text=True)
    assert disabled_row(app, legacy.bob)
    assert scalar(app, "SELECT count(*) FROM documents") == 1


def test_a_user_deleted_receiver_lets_the_host_remove_its_rows_first(make_app, legacy):
    """The host hands bob's documents over to the company's owner on ``user_deleted``: then
    nothing blocks the deletion."""
    app = make_app(OKTA_SCIM_ACCOUNT_REMOVAL="delete")

    def hand_over(sender: t.Any, *, account: t.Any, organization: t.Any, **kw: t.Any) -> None:
        if sender is not app:
            return
        db.session.execute(
            db.update(Document)
            .where(Document.author_id == account.id)
            .values(author_id=legacy.alice)
        )

    scim = provisioning(app, legacy.acme)
    bob = create_user(scim, "bob@acme.test")
    signals.user_deleted.connect(hand_over)
    try:
        set_active(scim, bob, False)
    finally:
        signals.user_deleted.disconnect(hand_over)
    assert user_row(app, legacy.bob) is None
    assert sql(app, "SELECT id, author_id FROM documents") == [(legacy.document, legacy.alice)]


# -- both policies ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy_app", ["disable", "delete"], indirect=True)
def test_a_person_of_two_companies_removed_from_one_stays_enabled(policy_app, legacy):
    app = policy_app
    acme, globex = provisioning(app, legacy.acme), provisioning(app, legacy.globex)
    alice_in_acme = create_user(acme, "alice@acme.test")
    create_user(globex, "alice@acme.test")
    assert memberships(app, legacy.globex) == {
        "alice@acme.test": "member",
        "gina@globex.test": "owner",
    }
    browser = app.test_client()
    with account_ids(signals.user_disabled) as heard, account_ids(signals.user_deleted) as deleted:
        set_active(acme, alice_in_acme, False)
    assert heard == [] and deleted == []
    assert user_row(app, legacy.alice) == ("alice@acme.test", None)
    assert not disabled(app, legacy.alice)
    assert "alice@acme.test" not in memberships(app, legacy.acme)
    assert group_members(app, legacy.engineering) == []
    assert memberships(app, legacy.globex)["alice@acme.test"] == "member"
    assert sign_in(browser, "alice@acme.test", ALICE_PASSWORD).status_code == 200
    assert whoami(browser).get_json()["companies"] == {"Globex": "member"}


@pytest.mark.postgresql_only
def test_a_deferred_foreign_key_blocks_the_delete_the_same_way(make_app, legacy, backend):
    """Django (and hosts that copied it) make every PostgreSQL foreign key ``DEFERRABLE
    INITIALLY DEFERRED``: the refused delete still ends in a disabled bob, not a 500."""
    app = make_app(OKTA_SCIM_ACCOUNT_REMOVAL="delete")
    execute(
        app,
        "ALTER TABLE documents ALTER CONSTRAINT documents_author_id_fkey"
        " DEFERRABLE INITIALLY DEFERRED",
    )
    scim = provisioning(app, legacy.acme)
    bob = create_user(scim, "bob@acme.test")
    set_active(scim, bob, False)
    assert disabled_row(app, legacy.bob)
    assert "bob@acme.test" not in memberships(app, legacy.acme)
    assert scalar(app, "SELECT author_id FROM documents") == legacy.bob
