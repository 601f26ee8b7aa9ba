"""SPEC §2 rule 11: signals are sent inside the transaction of the change."""

from __future__ import annotations

import typing as t

import pytest
from sqlalchemy import func
from sqlalchemy import select

from flask_okta_scim import signals
from sample_app.models import Monitor
from sample_app.models import db
from tests.conftest import listen
from tests.conftest import raising


class ReceiverFailed(Exception):
    pass


def total(model: t.Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)))


@pytest.fixture
def acme(directory: t.Any) -> t.Any:
    with directory.atomic():
        return directory.create_organization("Acme")


def test_sender_is_the_application(app, directory, acme):
    with listen(signals.team_created) as heard, directory.atomic():
        directory.create_team(acme, "Ops")
    assert heard[0][0] is app


def test_a_raising_receiver_leaves_nothing_of_a_provisioning(directory, acme, models):
    before = {
        m: total(m) for m in (models.account, models.identity, models.membership, models.audit)
    }
    with (
        raising(signals.user_provisioned, ReceiverFailed()),
        pytest.raises(ReceiverFailed),
        directory.atomic(),
    ):
        directory.provision(acme, user_name="ann@example.com", password="pw")
    assert {m: total(m) for m in before} == before


@pytest.mark.parametrize(
    ("policy", "signal"), [("delete", signals.user_deleted), ("disable", signals.user_disabled)]
)
def test_a_raising_receiver_leaves_a_deactivation_undone(directory, acme, models, policy, signal):
    directory.account_removal = policy
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="bob@example.com")
        account = directory.account_of(identity)
        team = directory.create_team(acme, "Ops", members=[account])
    with (
        raising(signal, ReceiverFailed()),
        pytest.raises(ReceiverFailed),
        directory.atomic(),
    ):
        directory.deactivate(identity)
    identity = directory.get_identity(acme, identity.id)
    assert identity.active is True
    assert directory.is_disabled(directory.account_of(identity)) is False
    account = directory.account_of(identity)
    assert account is not None
    assert directory.team_members(team) == [account]
    assert directory.member_role(acme, account) == "member"


def test_a_raising_team_deleted_receiver_keeps_the_team_and_its_monitors(directory, acme):
    with directory.atomic():
        team = directory.create_team(acme, "Ops")
        db.session.add(Monitor(team_id=team.id, name="home", url="https://home"))
    # The sample app's receiver deletes the monitors first; this one then fails.
    with (
        raising(signals.team_deleted, ReceiverFailed()),
        pytest.raises(ReceiverFailed),
        directory.atomic(),
    ):
        directory.delete_team(team)
    assert [t.name for t in directory.teams(acme)] == ["Ops"]
    assert total(Monitor) == 1


def test_receiver_writes_commit_with_the_change(directory, acme):
    def add_monitor(sender: t.Any, *, team: t.Any, **kwargs: t.Any) -> None:
        db.session.add(Monitor(team_id=team.id, name="default", url="https://example.com"))

    signals.team_created.connect(add_monitor)
    try:
        with directory.atomic():
            team_id = directory.create_team(acme, "Ops").id
    finally:
        signals.team_created.disconnect(add_monitor)
    db.session.expunge_all()
    assert db.session.scalars(select(Monitor.team_id)).all() == [team_id]


def test_receivers_see_the_change_through_the_session(directory, acme, models):
    seen: list[t.Any] = []

    def look(sender: t.Any, *, identity: t.Any, **kwargs: t.Any) -> None:
        seen.append(
            db.session.scalar(
                select(models.identity.user_name).where(models.identity.id == identity.id)
            )
        )

    signals.user_provisioned.connect(look)
    try:
        with directory.atomic():
            directory.provision(acme, user_name="Cy@example.com")
    finally:
        signals.user_provisioned.disconnect(look)
    assert seen == ["Cy@example.com"]


def test_every_required_signal_exists_with_its_documented_name():
    required = {
        "user_provisioned": "user-provisioned",
        "user_updated": "user-updated",
        "user_detached": "user-detached",
        "user_deleted": "user-deleted",
        "user_reactivated": "user-reactivated",
        "team_created": "team-created",
        "team_updated": "team-updated",
        "team_members_changed": "team-members-changed",
        "team_deleted": "team-deleted",
        "sso_login": "sso-login",
    }
    assert {name: getattr(signals, name).name for name in required} == required
