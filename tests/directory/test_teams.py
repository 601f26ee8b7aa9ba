"""SPEC §2 rule 10 and team domains: teams as set operations, deletion with resources."""

from __future__ import annotations

import typing as t

import pytest
from sqlalchemy import select

from flask_okta_scim import Conflict
from flask_okta_scim import InvalidValue
from flask_okta_scim import NotAMember
from flask_okta_scim import NotFound
from flask_okta_scim import signals
from sample_app.models import Monitor
from tests.conftest import listen


@pytest.fixture
def acme(directory: t.Any) -> t.Any:
    with directory.atomic():
        org = directory.create_organization("Acme")
        for name in ("ann", "bob", "cat", "dan"):
            account, _ = directory.ensure_account(f"{name}@acme.example")
            directory.add_member(org, account)
    return org


def accounts(directory: t.Any, *names: str) -> list[t.Any]:
    return [directory.find_account(f"{name}@acme.example") for name in names]


def emails(items: list[t.Any]) -> list[str]:
    return sorted(a.email.split("@")[0] for a in items)


def test_create_team_managed_by_okta_gets_a_scim_group(directory, acme):
    with listen(signals.team_created) as heard, directory.atomic():
        team = directory.create_team(
            acme,
            "Pushed",
            managed_by_okta=True,
            external_id="00g1",
            members=accounts(directory, "ann", "bob"),
        )
        plain = directory.create_team(acme, "Plain")
    group = directory.group_of(team)
    assert len(group.id) == 36 and group.external_id == "00g1" and group.managed
    assert directory.managed_by_okta(team) and not directory.managed_by_okta(plain)
    plain_group = directory.group_of(plain)  # every team is a SCIM group (rule 10)
    assert plain_group is not None and plain_group.id != group.id and not plain_group.managed
    assert plain_group.name_key == "plain"
    assert [kw["managed_by_okta"] for _, kw in heard] == [True, False]
    assert emails(directory.team_members(team)) == ["ann", "bob"]


def test_members_must_belong_to_the_organization(directory, acme):
    with directory.atomic():
        other = directory.create_organization("Globex")
        outsider, _ = directory.ensure_account("eve@globex.example")
        directory.add_member(other, outsider)
        team = directory.create_team(acme, "Ops")
    with pytest.raises(NotAMember) as refused, directory.atomic():
        directory.add_team_members(team, [*accounts(directory, "ann"), outsider])
    assert refused.value.account_ids == [outsider.id]
    assert directory.team_members(team) == []
    with pytest.raises(NotAMember), directory.atomic():
        directory.create_team(acme, "Sneaky", members=[outsider])
    assert [t.name for t in directory.teams(acme)] == ["Ops"]


def test_add_and_remove_are_set_operations(directory, acme):
    with directory.atomic():
        team = directory.create_team(acme, "Ops")
    with listen(signals.team_members_changed) as heard, directory.atomic():
        first = directory.add_team_members(team, accounts(directory, "ann", "bob"))
        second = directory.add_team_members(team, accounts(directory, "bob", "cat", "cat"))
        gone = directory.remove_team_members(team, accounts(directory, "ann", "dan"))
        nothing = directory.remove_team_members(team, accounts(directory, "dan"))
    assert (emails(first), emails(second), emails(gone), nothing) == (
        ["ann", "bob"],
        ["cat"],
        ["ann"],
        [],
    )
    assert emails(directory.team_members(team)) == ["bob", "cat"]
    assert [(emails(kw["added"]), emails(kw["removed"])) for _, kw in heard] == [
        (["ann", "bob"], []),
        (["cat"], []),
        ([], ["ann"]),
    ]


def test_replace_applies_only_the_difference(directory, acme, models):
    with directory.atomic():
        team = directory.create_team(acme, "Ops", members=accounts(directory, "ann", "bob"))
    tm = models.team_member
    bob_since = directory.session.scalar(
        select(tm.created_at).where(tm.account_id == accounts(directory, "bob")[0].id)
    )
    with listen(signals.team_members_changed) as heard, directory.atomic():
        added, removed = directory.replace_team_members(
            team, accounts(directory, "bob", "cat", "dan")
        )
    assert (emails(added), emails(removed)) == (["cat", "dan"], ["ann"])
    assert len(heard) == 1
    assert (
        directory.session.scalar(
            select(tm.created_at).where(tm.account_id == accounts(directory, "bob")[0].id)
        )
        == bob_since
    )
    with listen(signals.team_members_changed) as heard, directory.atomic():
        assert directory.replace_team_members(team, accounts(directory, "dan", "cat", "bob")) == (
            [],
            [],
        )
    assert heard == []


def test_rename_bumps_the_group_version_and_signals(directory, acme):
    with directory.atomic():
        team = directory.create_team(acme, "Ops", managed_by_okta=True)
    with listen(signals.team_updated) as heard, directory.atomic():
        assert directory.rename_team(team, "Operations") is True
        assert directory.rename_team(team, "Operations") is False
    assert team.name == "Operations"
    assert heard[0][1]["previous_name"] == "Ops"
    assert directory.group_of(team).version == 2
    with pytest.raises(InvalidValue), directory.atomic():
        directory.rename_team(team, "   ")


def test_delete_team_takes_its_resources_along(directory, acme, models):
    with directory.atomic():
        doomed = directory.create_team(
            acme, "Doomed", managed_by_okta=True, members=accounts(directory, "ann")
        )
        directory.add_team_domain(doomed, "acme.example")
        kept = directory.create_team(acme, "Kept")
        directory.session.add_all(
            [
                Monitor(team_id=doomed.id, name="a", url="https://a"),
                Monitor(team_id=kept.id, name="b", url="https://b"),
            ]
        )
    doomed_id = doomed.id
    seen: list[int] = []
    signals.team_deleted.connect(
        receiver := lambda s, team, **kw: seen.append(
            len(directory.session.scalars(select(Monitor).where(Monitor.team_id == team.id)).all())
        ),
        weak=False,
    )
    try:
        with directory.atomic():
            directory.delete_team(doomed)
    finally:
        signals.team_deleted.disconnect(receiver)
    assert seen == [0]  # the sample app's receiver, connected first, already deleted them
    assert [m.name for m in directory.session.scalars(select(Monitor))] == ["b"]
    for model in (models.team_member, models.team_domain, models.group):
        assert (
            directory.session.scalars(select(model).where(model.team_id == doomed_id)).all() == []
        )
    assert [t.name for t in directory.teams(acme)] == ["Kept"]


@pytest.mark.parametrize(
    "raw", ["*.acme.example", "localhost", "10.0.0.1", "acme .example", "-acme.example", ""]
)
def test_bad_domains_are_refused(directory, acme, raw):
    with directory.atomic():
        team = directory.create_team(acme, "Ops")
    with pytest.raises(InvalidValue), directory.atomic():
        directory.add_team_domain(team, raw)
    assert directory.team_domains(team) == []


def test_domains_are_normalised_and_deduplicated(directory, acme):
    with directory.atomic():
        team = directory.create_team(acme, "Ops")
        assert directory.add_team_domain(team, " Acme.Example. ") is True
        assert directory.add_team_domain(team, "acme.example") is False
        assert directory.add_team_domain(team, "bücher.example") is True
    assert directory.team_domains(team) == ["acme.example", "xn--bcher-kva.example"]
    with directory.atomic():
        assert directory.remove_team_domain(team, "ACME.example") is True
        assert directory.remove_team_domain(team, "acme.example") is False


def test_teams_are_found_by_id_or_name_within_their_org_only(directory, acme):
    with directory.atomic():
        ops = directory.create_team(acme, "Ops")
        other = directory.create_organization("Globex")
        theirs = directory.create_team(other, "Ops")
        directory.create_team(acme, "Twin")
        directory.create_team(acme, "Twin")
    assert directory.get_team(acme, str(ops.id)) is ops
    assert directory.get_team(acme, "Ops") is ops
    with pytest.raises(NotFound):
        directory.get_team(acme, str(theirs.id))
    with pytest.raises(Conflict, match="use the id"):
        directory.get_team(acme, "Twin")
