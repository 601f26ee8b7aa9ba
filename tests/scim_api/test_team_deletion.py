"""The team-deletion policies (issue 14): what Okta's ``DELETE /Groups/{id}`` does to a team.

quarantine (the default): gone for Okta and for its members at once, resources kept, restorable
by an operator, purged later (only then ``team_deleted``); delete: gone with its resources;
detach: kept as an ordinary team. Through SCIM and the command line, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from flask_okta_scim import signals
from flask_okta_scim.sqla.mixins import utcnow
from sample_app.models import Monitor
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import assert_scim_error
from tests.conftest import listen
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok
from tests.conftest import patch_body
from tests.scim_api.test_groups import new_group
from tests.scim_api.test_groups import users

GROUP_FILTER = "/Groups?filter=displayName%20eq%20%22{}%22"


@contextmanager
def heard(signal: t.Any, what: t.Callable[[dict[str, t.Any]], t.Any]) -> Iterator[list[t.Any]]:
    """``what(keywords)`` of each send of ``signal`` inside the block, taken when it is sent."""
    calls: list[t.Any] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append(what(kwargs))

    signal.connect(receiver, weak=False)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def team_id_of(kw: dict[str, t.Any]) -> t.Any:
    return kw["team"].id


def emails_of(key: str) -> t.Callable[[dict[str, t.Any]], list[str]]:
    return lambda kw: sorted(a.email for a in kw[key])


def acme_team(app: Flask, ref: t.Any) -> t.Any:
    with app.app_context():
        directory = okta.directory()
        return directory.get_team(directory.get_organization("Acme"), ref)


def with_monitor(app: Flask, name: str) -> int:
    """The id of team ``name``, given a monitor."""
    with app.app_context():
        found = acme_team(app, name)
        db.session.add(Monitor(team_id=found.id, name=f"{name} home", url="https://x.example/"))
        db.session.commit()
        return int(found.id)


def monitors(app: Flask, team_id: int) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).where(Monitor.team_id == team_id)) or 0)


def team_view(app: Flask, team_id: int) -> dict[str, t.Any]:
    with app.app_context():
        directory = okta.directory()
        found = directory.get_team(directory.get_organization("Acme"), team_id)
        org = directory.get_organization("Acme")
        return {
            "members": [a.email for a in directory.team_members(found)],
            "quarantined": directory.is_quarantined(found),
            "listed": found.id in [x.id for x in directory.teams(org)],
            "managed": directory.managed_by_okta(found),
        }


def purged_teams(out: str) -> list[dict[str, t.Any]]:
    """The teams ``flask okta-scim purge`` printed (one JSON object per line)."""
    rows = [json.loads(line) for line in out.splitlines()]
    return [row for row in rows if "team" in row]


def audit_actions(app: Flask, kind: str) -> list[str]:
    with app.app_context():
        directory = okta.directory()
        rows = directory.audit_log(directory.get_organization("Acme"), kind=kind)
        return [row.action for row in reversed(rows)]


# -- quarantine, the default ---------------------------------------------------------------------


def test_quarantine_hides_the_team_from_okta_and_its_members_and_keeps_its_resources(app, scim):
    ann, bob = users(scim, "ann", "bob")
    group = new_group(scim, "Legal", [ann, bob])
    team_id = with_monitor(app, "Legal")
    with (
        listen(signals.team_deleted) as deleted,
        heard(signals.team_quarantined, lambda kw: (kw["team"].id, kw["purge_after"])) as quar,
        heard(signals.team_members_changed, emails_of("removed")) as changed,
    ):
        assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert deleted == []
    assert [q[0] for q in quar] == [team_id]
    assert timedelta(days=29) < quar[0][1] - utcnow() <= timedelta(days=30)
    assert changed == [["ann@acme.example", "bob@acme.example"]]
    # Gone for Okta...
    assert_scim_error(scim.get(f"/Groups/{group['id']}"), 404)
    assert scim.get(GROUP_FILTER.format("Legal")).get_json(force=True)["totalResults"] == 0
    assert scim.get("/Groups").get_json(force=True)["totalResults"] == 0
    r = scim.patch(
        f"/Groups/{group['id']}", patch_body({"op": "add", "path": "members", "value": []})
    )
    assert_scim_error(r, 404)
    user = scim.get(f"/Users/{ann}?attributes=groups").get_json(force=True)
    assert user.get("groups", []) == []
    # ...and for its members; the team and its monitor stay.
    assert team_view(app, team_id) == {
        "members": [],
        "quarantined": True,
        "listed": False,
        "managed": False,
    }
    assert monitors(app, team_id) == 1
    assert audit_actions(app, "team") == [
        "team.create",
        "team.members",  # ann and bob added
        "team.members",  # ann and bob removed
        "team.quarantine",
    ]
    # A reindex does not bring its SCIM group back.
    okta_cli_ok(app, "scim", "reindex", "Acme")
    assert scim.get("/Groups").get_json(force=True)["totalResults"] == 0


def test_okta_pushing_the_same_name_again_makes_a_new_team(app, scim):
    (ann,) = users(scim, "ann")
    old = new_group(scim, "Legal", [ann])
    old_team = with_monitor(app, "Legal")
    scim.delete(f"/Groups/{old['id']}")
    new = new_group(scim, "Legal", [ann])  # no 409: the quarantined team does not count
    assert new["id"] != old["id"]
    new_team = acme_team(app, "Legal").id  # the name finds the live team only
    assert new_team != old_team
    assert team_view(app, new_team)["members"] == ["ann@acme.example"]
    assert monitors(app, new_team) == 0 and monitors(app, old_team) == 1
    # Restoring the old one under the same name would make two teams of one name.
    result = okta_cli(app, "team", "restore", "Acme", str(old_team))
    assert result.exit_code == 1 and "Another team of this organization is named" in result.stderr
    assert team_view(app, old_team)["quarantined"] is True
    okta_cli_ok(app, "team", "restore", "Acme", str(old_team), "--name", "Legal (old)")
    view = team_view(app, old_team)
    assert view["quarantined"] is False and view["members"] == ["ann@acme.example"]
    assert acme_team(app, "Legal (old)").id == old_team


def test_restore_brings_back_members_and_the_okta_link_as_they_were(app, scim):
    ann, bob, cy = users(scim, "ann", "bob", "cy")
    group = new_group(scim, "Legal", [ann, bob, cy])
    team_id = with_monitor(app, "Legal")
    scim.patch(
        f"/Groups/{group['id']}", patch_body({"op": "replace", "value": {"externalId": "x1"}})
    )
    scim.delete(f"/Groups/{group['id']}")
    # Meanwhile cy leaves the organization (Okta deactivates).
    scim.patch(f"/Users/{cy}", patch_body({"op": "replace", "value": {"active": False}}))
    listed = json.loads(okta_cli_ok(app, "team", "quarantined", "Acme"))
    assert [(row["id"], row["name"], row["members"]) for row in listed] == [
        (str(team_id), "Legal", 3)
    ]
    with (
        heard(signals.team_restored, team_id_of) as restored,
        heard(signals.team_members_changed, emails_of("added")) as added,
    ):
        result = okta_cli(app, "team", "restore", "Acme", str(team_id))
    assert result.exit_code == 0, result.stderr
    assert "with 2 member(s)" in result.stderr
    assert restored == [team_id]
    assert added == [["ann@acme.example", "bob@acme.example"]]
    assert team_view(app, team_id) == {
        "members": ["ann@acme.example", "bob@acme.example"],
        "quarantined": False,
        "listed": True,
        "managed": True,
    }
    assert monitors(app, team_id) == 1
    # The same SCIM group for Okta: id, externalId, its member list (cy included, as Okta has it).
    got = scim.get(f"/Groups/{group['id']}")
    assert got.status_code == 200, got.get_data(as_text=True)
    body = got.get_json(force=True)
    assert body["displayName"] == "Legal" and body.get("externalId") == "x1"
    assert {m["value"] for m in body["members"]} == {ann, bob, cy}
    assert json.loads(okta_cli_ok(app, "team", "quarantined", "Acme")) == []
    # Restoring twice is refused plainly.
    result = okta_cli(app, "team", "restore", "Acme", str(team_id))
    assert result.exit_code == 1 and "is not quarantined" in result.stderr
    assert audit_actions(app, "team")[-1] == "team.restore"


def test_a_quarantined_team_takes_nobody_in_by_jit(app, scim):
    (ann,) = users(scim, "ann")
    group = new_group(scim, "Legal", [ann])
    with app.app_context(), okta.directory().atomic() as directory:
        directory.add_team_domain(acme_team(app, "Legal"), "acme.example")
    team_id = acme_team(app, "Legal").id
    scim.delete(f"/Groups/{group['id']}")
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.get_organization("Acme")
        with pytest.raises(Exception, match="pre-approves"):
            directory.jit(org, "newcomer@acme.example")
    assert team_view(app, team_id)["members"] == []


@pytest.mark.app_config(OKTA_SCIM_TEAM_QUARANTINE_DAYS=0)
def test_purge_deletes_expired_teams_once_and_only_then_sends_team_deleted(app, scim):
    g1 = new_group(scim, "One")
    g2 = new_group(scim, "Two")
    one, two = with_monitor(app, "One"), with_monitor(app, "Two")
    scim.delete(f"/Groups/{g1['id']}")
    scim.delete(f"/Groups/{g2['id']}")
    with app.app_context(), okta.directory().atomic() as directory:  # Two waits longer
        directory.quarantine(
            directory.get_team(directory.get_organization("Acme"), two)
        ).purge_after = utcnow() + timedelta(days=1)
    with heard(signals.team_deleted, team_id_of) as deleted:
        out = okta_cli_ok(app, "purge")
    assert deleted == [one]
    assert purged_teams(out) == [{"team": str(one), "name": "One", "purged": True}]
    assert monitors(app, one) == 0 and monitors(app, two) == 1
    with listen(signals.team_deleted) as again:
        assert purged_teams(okta_cli_ok(app, "purge")) == []  # idempotent
    assert again == []
    assert audit_actions(app, "team.purge") == ["team.purge"]


@pytest.mark.app_config(OKTA_SCIM_TEAM_QUARANTINE_DAYS=0)
def test_a_purge_a_receiver_refuses_keeps_that_team_and_purges_the_others(app, scim):
    g1, g2 = new_group(scim, "Stuck"), new_group(scim, "Fine")
    stuck, fine = with_monitor(app, "Stuck"), with_monitor(app, "Fine")
    scim.delete(f"/Groups/{g1['id']}")
    scim.delete(f"/Groups/{g2['id']}")

    def refuse(sender: t.Any, *, team: t.Any, **kwargs: t.Any) -> None:
        if team.name == "Stuck":
            raise RuntimeError("the host cannot delete these resources yet")

    signals.team_deleted.connect(refuse)
    try:
        result = okta_cli(app, "purge")
    finally:
        signals.team_deleted.disconnect(refuse)
    assert result.exit_code == 1
    assert f"team {stuck} ('Stuck'): RuntimeError" in result.stderr
    assert purged_teams(result.stdout) == [{"team": str(fine), "name": "Fine", "purged": True}]
    assert team_view(app, stuck)["quarantined"] is True and monitors(app, stuck) == 1
    assert monitors(app, fine) == 0


# -- the other policies, per organization --------------------------------------------------------


def test_the_policy_is_the_application_s_default_until_the_organization_chooses(app, scim):
    assert okta_cli_ok(app, "org", "team-deletion", "Acme").strip() == "quarantine"
    assert okta_cli_ok(app, "org", "team-deletion", "Acme", "detach").strip() == "detach"
    assert okta_cli_ok(app, "org", "team-deletion", "Acme", "default").strip() == "quarantine"
    result = okta_cli(app, "org", "team-deletion", "Acme", "shred")
    assert result.exit_code == 2
    assert audit_actions(app, "team.deletion_policy") == ["team.deletion_policy"] * 2


@pytest.mark.app_config(OKTA_SCIM_TEAM_DELETION="detach")
def test_the_host_sets_the_default(app, scim):
    assert okta_cli_ok(app, "org", "team-deletion", "Acme").strip() == "detach"


def test_delete_policy_deletes_the_team_and_its_resources_at_once(app, scim):
    okta_cli_ok(app, "org", "team-deletion", "Acme", "delete")
    (ann,) = users(scim, "ann")
    group = new_group(scim, "Doomed", [ann])
    team_id = with_monitor(app, "Doomed")
    with heard(signals.team_deleted, lambda kw: kw["team"].name) as deleted:
        assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert deleted == ["Doomed"]
    assert monitors(app, team_id) == 0
    with app.app_context():
        assert okta.directory().find_account("ann@acme.example") is not None
    assert json.loads(okta_cli_ok(app, "team", "quarantined", "Acme")) == []


def test_detach_keeps_an_ordinary_team_that_okta_can_link_again(app, scim):
    okta_cli_ok(app, "org", "team-deletion", "Acme", "detach")
    (ann,) = users(scim, "ann")
    group = new_group(scim, "Support", [ann])
    team_id = with_monitor(app, "Support")
    with (
        heard(signals.team_detached, team_id_of) as detached,
        listen(signals.team_deleted) as deleted,
    ):
        assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert deleted == [] and detached == [team_id]
    assert team_view(app, team_id) == {
        "members": [],
        "quarantined": False,
        "listed": True,
        "managed": False,
    }
    assert monitors(app, team_id) == 1
    assert_scim_error(scim.get(f"/Groups/{group['id']}"), 404)
    # Okta's lookup by name finds the team again, under a new id, unlinked and empty.
    found = scim.get(GROUP_FILTER.format("Support")).get_json(force=True)["Resources"]
    assert len(found) == 1 and found[0]["id"] != group["id"]
    assert found[0].get("members", []) == []
    assert audit_actions(app, "team")[-1] == "team.detach"


# -- two purges at once ----------------------------------------------------------------------------


@pytest.mark.postgresql_only
@pytest.mark.app_config(OKTA_SCIM_TEAM_QUARANTINE_DAYS=0)
def test_two_purges_racing_delete_each_team_exactly_once(app, scim, database_url, tmp_path):
    from tests.sample_server import SampleServer

    for n in range(12):
        group = new_group(scim, f"Team {n}")
        with_monitor(app, f"Team {n}")
        scim.delete(f"/Groups/{group['id']}")
    server = SampleServer(
        database_url, tmp_path / "server.log", env={"FLASK_OKTA_SCIM_TEAM_QUARANTINE_DAYS": "0"}
    )
    # A slow receiver would widen the window; two processes started together suffice with
    # twelve teams: each takes the next unlocked one.
    runs = [
        subprocess.Popen(
            server.command("okta-scim", "purge"),
            env=server.env,
            cwd=str(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    purged = [row["team"] for out, _ in outputs for row in purged_teams(out)]
    assert len(purged) == 12 and len(set(purged)) == 12
    assert audit_actions(app, "team.purge").count("team.purge") == 12
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Monitor)) == 0
