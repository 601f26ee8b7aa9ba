"""SPEC §2 rule 6, the host's choice: a person deprovisioned from their last organization is
disabled (the default) or deleted, over HTTP as Okta sends it; a host foreign key that refuses
the deletion leaves the account disabled, never a failed deprovisioning."""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from flask_okta_scim import signals
from flask_okta_scim.config import ConfigError
from flask_okta_scim.sqla.mixins import utcnow
from sample_app import create_app
from sample_app.models import Account
from sample_app.models import Monitor
from sample_app.models import OnCallShift
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import listen
from tests.conftest import patch_body
from tests.conftest import provisioning_org
from tests.conftest import sample_app_on
from tests.conftest import user_body

POLICIES = ["disable", "delete"]

HOLDS = MetaData()
legal_hold = Table(
    "legal_hold",
    HOLDS,
    Column("id", Integer, primary_key=True),
    # No ondelete: the host keeps the account as long as a hold references it.
    Column("account_id", Integer, ForeignKey(Account.__table__.c.id), nullable=False),
)
deferred_hold = Table(
    "deferred_hold",
    HOLDS,
    Column("id", Integer, primary_key=True),
    # Checked at commit, after the extension's savepoint: it must check it earlier.
    Column(
        "account_id",
        Integer,
        ForeignKey(Account.__table__.c.id, deferrable=True, initially="DEFERRED"),
        nullable=False,
    ),
)


@pytest.fixture(params=POLICIES)
def policy(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


@pytest.fixture
def app(database_url: str, backend: str, policy: str) -> Iterator[Flask]:
    with sample_app_on(database_url, backend, OKTA_SCIM_ACCOUNT_REMOVAL=policy) as app:
        with app.app_context():
            HOLDS.create_all(db.engine)
        yield app
        with app.app_context():
            db.session.remove()
            HOLDS.drop_all(db.engine)


@pytest.fixture
def scim(app: Flask) -> ScimClient:
    return ScimClient(app, provisioning_org(app, "Acme")[1])


@contextmanager
def heard(signal: t.Any) -> Iterator[list[dict[str, t.Any]]]:
    """The account id and organization name of each send, read while the session is open."""
    calls: list[dict[str, t.Any]] = []

    def receiver(sender: t.Any, *, account: t.Any, organization: t.Any, **kw: t.Any) -> None:
        name = organization.name if organization is not None else None
        calls.append({"account_id": account.id, "organization_name": name})

    signal.connect(receiver, weak=False)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def deactivate(scim: ScimClient, scim_id: str) -> t.Any:
    return scim.patch(
        f"/Users/{scim_id}", patch_body({"op": "replace", "value": {"active": False}})
    )


def reactivate(scim: ScimClient, scim_id: str) -> t.Any:
    return scim.patch(f"/Users/{scim_id}", patch_body({"op": "replace", "value": {"active": True}}))


def provision(scim: ScimClient, email: str) -> str:
    created = scim.post("/Users", user_body(email))
    assert created.status_code == 201, created.get_data(as_text=True)
    return t.cast(str, created.get_json()["id"])


def account_id(app: Flask, email: str) -> int | None:
    """The id of ``email``'s row in the host's account table, read with plain SQL; or None."""
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.email == email))


def is_disabled(app: Flask, email: str) -> bool:
    with app.app_context():
        return okta.directory().is_disabled(okta.directory().find_account(email))


def test_deactivation_removes_the_account_as_configured(app, scim, policy):
    scim_id = provision(scim, "dee@atko.com")
    before = account_id(app, "dee@atko.com")
    with heard(signals.user_disabled) as disabled, heard(signals.user_deleted) as deleted:
        assert deactivate(scim, scim_id).status_code == 200
    after = account_id(app, "dee@atko.com")
    if policy == "disable":
        assert after is not None and after == before
        assert is_disabled(app, "dee@atko.com")
        assert [kw["account_id"] for kw in disabled] == [before] and deleted == []
    else:
        assert after is None
        assert [kw["account_id"] for kw in deleted] == [before] and disabled == []
    assert scim.get(f"/Users/{scim_id}").get_json()["active"] is False


def test_reactivation_finds_the_same_account_when_disabled(app, scim, policy):
    scim_id = provision(scim, "rey@atko.com")
    first = account_id(app, "rey@atko.com")
    assert deactivate(scim, scim_id).status_code == 200
    with heard(signals.user_enabled) as enabled, listen(signals.user_reactivated) as back:
        assert reactivate(scim, scim_id).status_code == 200
    assert not is_disabled(app, "rey@atko.com")
    assert back[0][1]["created_account"] is (policy == "delete")
    if policy == "disable":
        assert account_id(app, "rey@atko.com") == first
        assert [kw["organization_name"] for kw in enabled] == ["Acme"]
    with app.app_context():
        directory = okta.directory()
        again = directory.find_account("rey@atko.com")
        assert [o.name for o in directory.organizations_of(again)] == ["Acme"]


def test_a_re_post_of_the_user_name_also_enables_the_same_account(app, scim, policy):
    scim_id = provision(scim, "pia@atko.com")
    first = account_id(app, "pia@atko.com")
    assert scim.delete(f"/Users/{scim_id}").status_code == 204
    assert (account_id(app, "pia@atko.com") is None) is (policy == "delete")
    again = scim.post("/Users", user_body("pia@atko.com"))
    assert again.status_code == 201 and again.get_json()["id"] == scim_id
    assert not is_disabled(app, "pia@atko.com")
    if policy == "disable":
        assert account_id(app, "pia@atko.com") == first


def test_a_person_in_another_organization_is_only_detached(app, scim, policy):
    other = ScimClient(app, provisioning_org(app, "Globex")[1])
    scim_id = provision(scim, "two@atko.com")
    provision(other, "two@atko.com")
    assert deactivate(scim, scim_id).status_code == 200
    assert account_id(app, "two@atko.com") is not None
    assert not is_disabled(app, "two@atko.com")


@pytest.mark.parametrize("hold", [legal_hold, deferred_hold], ids=["immediate", "deferred"])
def test_a_host_foreign_key_never_fails_the_deprovisioning(app, scim, policy, caplog, hold):
    """The hold points at the account without ON DELETE: deletion is impossible."""
    scim_id = provision(scim, "held@atko.com")
    with app.app_context(), okta.directory().atomic() as directory:
        account = directory.find_account("held@atko.com")
        team = directory.create_team(directory.get_organization("Acme"), "Ops")
        db.session.execute(insert(hold).values(account_id=account.id))
        # A monitor the person made: the sample's user_deleted receiver clears its creator.
        db.session.add(
            Monitor(team_id=team.id, name="m", url="https://m", created_by_id=account.id)
        )
        held_id = account.id
    with caplog.at_level(logging.WARNING, logger="flask_okta_scim"):
        answer = deactivate(scim, scim_id)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert account_id(app, "held@atko.com") == held_id
    assert is_disabled(app, "held@atko.com")
    refused = [
        r for r in caplog.records if getattr(r, "okta_scim_event", "") == "account.delete_refused"
    ]
    if policy == "delete":
        assert len(refused) == 1 and refused[0].okta_scim_reference == str(held_id)
        assert refused[0].okta_scim_reason == "foreign_key"
    else:
        assert refused == []
    with app.app_context():
        # What user_deleted's receivers did was undone with the refused deletion.
        assert db.session.scalars(select(Monitor.created_by_id)).one() == held_id
        directory = okta.directory()
        assert directory.organizations_of(directory.find_account("held@atko.com")) == []
    assert scim.get(f"/Users/{scim_id}").get_json()["active"] is False


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(app, scim, policy):
    """An account that existed before SSO keeps its own password; disabled, it is refused."""
    with app.app_context(), okta.directory().atomic() as directory:
        account, _ = directory.ensure_account("own@atko.com")
        account.set_password("my own password")
    scim_id = provision(scim, "own@atko.com")  # Okta attaches the existing account
    browser = app.test_client()
    login = {"email": "own@atko.com", "password": "my own password"}
    assert browser.post("/login", data=login).status_code == 302
    assert browser.get("/me").status_code == 200
    assert deactivate(scim, scim_id).status_code == 200
    assert browser.get("/me").status_code == 401  # the session ended
    if policy == "disable":
        refused = browser.post("/login", data=login)
        assert refused.status_code == 403 and b"disabled" in refused.data
        assert reactivate(scim, scim_id).status_code == 200
        assert browser.post("/login", data=login).status_code == 302
    else:
        assert account_id(app, "own@atko.com") is None


def test_on_call_shifts_survive_by_either_policy(app, scim, policy):
    """The sample's shifts point at the account with a plain foreign key (issue: a host's rows)."""
    scim_id = provision(scim, "oli@atko.com")
    past = provision(scim, "pat@atko.com")
    now = utcnow()
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.get_organization("Acme")
        oli, pat = (directory.find_account(e) for e in ("oli@atko.com", "pat@atko.com"))
        team = directory.create_team(org, "Ops", members=[oli, pat])
        week = timedelta(days=7)
        db.session.add_all(
            [
                OnCallShift(team_id=team.id, account_id=oli.id, starts_at=now, ends_at=now + week),
                OnCallShift(team_id=team.id, account_id=pat.id, starts_at=now - week, ends_at=now),
            ]
        )
    assert deactivate(scim, scim_id).status_code == 200
    assert deactivate(scim, past).status_code == 200
    with app.app_context():
        # Oli's upcoming shift went with the detachment (the sample's receiver); Pat's
        # past one stays, naming Pat: deleting Pat was impossible, so Pat is disabled.
        shifts = db.session.execute(select(OnCallShift.account_id)).scalars().all()
        pat_row = okta.directory().find_account("pat@atko.com")
        assert shifts == [pat_row.id]
        assert okta.directory().is_disabled(pat_row)
        oli_row = okta.directory().find_account("oli@atko.com")
        assert (oli_row is None) is (policy == "delete")
        count = db.session.scalar(select(func.count()).select_from(Account))
        assert count == (1 if policy == "delete" else 2)


def test_an_unknown_policy_is_refused_at_start_up():
    with pytest.raises(ConfigError, match="OKTA_SCIM_ACCOUNT_REMOVAL"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "OKTA_SCIM_ACCOUNT_REMOVAL": "purge"})
