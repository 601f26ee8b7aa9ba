"""Okta's *Link Group* (rule 10): every team is a SCIM Group, found by displayName, linked by
its first write, and never duplicated."""

from __future__ import annotations

import json
import typing as t

from flask_okta_scim import signals
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import listen
from tests.conftest import patch_body
from tests.conftest import provisioning_org
from tests.conftest import user_body

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def host_team(app: t.Any, name: str, members: tuple[str, ...] = ()) -> int:
    """A team the host made itself (its own UI), with some members of Acme."""
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.get_organization("Acme")
        accounts = []
        for email in members:
            account, _ = directory.ensure_account(email)
            directory.add_member(org, account)
            accounts.append(account)
        return int(directory.create_team(org, name, members=accounts).id)


def team_state(app: t.Any, team_id: int) -> tuple[str, list[str], bool]:
    with app.app_context():
        directory = okta.directory()
        team = directory.get_team(directory.get_organization("Acme"), team_id)
        return (
            team.name,
            sorted(a.email for a in directory.team_members(team)),
            directory.managed_by_okta(team),
        )


def find(scim: ScimClient, name: str) -> list[dict[str, t.Any]]:
    r = scim.get(f'/Groups?filter=displayName eq "{name}"')
    assert r.status_code == 200
    return t.cast(list[dict[str, t.Any]], r.get_json(force=True)["Resources"])


def test_a_host_team_is_found_by_display_name_in_any_case(app, scim):
    team_id = host_team(app, "Équipe Zürich")
    for spelling in ("Équipe Zürich", "ÉQUIPE ZÜRICH", "équipe zürich"):
        found = find(scim, spelling)
        assert [g["displayName"] for g in found] == ["Équipe Zürich"], spelling
    assert team_state(app, team_id)[2] is False  # a lookup links nothing


def test_okta_links_with_a_patch_and_the_team_becomes_okta_managed(app, scim):
    ann = scim.post("/Users", user_body("ann@acme.example")).get_json(force=True)["id"]
    bob = scim.post("/Users", user_body("bob@acme.example")).get_json(force=True)["id"]
    team_id = host_team(app, "Sales", ("bob@acme.example", "sso-only@acme.example"))
    group = find(scim, "sales")[0]
    # before the link: the team's provisioned people are its members
    assert [m["value"] for m in group["members"]] == [bob]
    with listen(signals.team_linked) as linked:
        r = scim.patch(
            f"/Groups/{group['id']}",
            patch_body(
                {"op": "replace", "value": {"id": group["id"], "displayName": "Sales"}},
                {"op": "add", "path": "members", "value": [{"value": ann}]},
            ),
        )
    assert r.status_code == 204, r.get_data(as_text=True)
    assert [kw["group_id"] for _, kw in linked] == [group["id"]]
    name, members, managed = team_state(app, team_id)
    assert (name, managed) == ("Sales", True)
    assert members == ["ann@acme.example", "bob@acme.example", "sso-only@acme.example"]
    # Okta's member list from now on: a replace makes the team exactly that
    r = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "replace", "path": "members", "value": [{"value": ann}]}),
    )
    assert r.status_code == 204
    assert team_state(app, team_id)[1] == ["ann@acme.example"]
    again = scim.get(f"/Groups/{group['id']}").get_json(force=True)
    assert [m["value"] for m in again["members"]] == [ann]


def test_a_push_of_an_existing_name_is_a_conflict_not_a_duplicate(app, scim):
    host_team(app, "Équipe Zürich")
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": "ÉQUIPE ZÜRICH"})
    assert_scim_error(r, 409, "uniqueness")
    listed = scim.get("/Groups").get_json(force=True)
    assert listed["totalResults"] == 1


def test_a_pushed_group_is_not_pushed_twice_whatever_the_case(scim):
    first = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Straße"})
    assert first.status_code == 201
    assert_scim_error(
        scim.post("/Groups", {"schemas": [GROUP], "displayName": "STRASSE"}), 409, "uniqueness"
    )
    assert [g["id"] for g in find(scim, "strasse")] == [first.get_json(force=True)["id"]]


def test_a_host_team_renamed_by_the_host_is_found_by_its_new_name(app, scim):
    team_id = host_team(app, "Old")
    with app.app_context(), okta.directory().atomic() as directory:
        directory.rename_team(
            directory.get_team(directory.get_organization("Acme"), team_id), "Nouvelle Équipe"
        )
    assert find(scim, "old") == []
    assert [g["displayName"] for g in find(scim, "NOUVELLE ÉQUIPE")] == ["Nouvelle Équipe"]


def test_put_links_too(app, scim):
    team_id = host_team(app, "Support")
    group = find(scim, "Support")[0]
    r = scim.put(
        f"/Groups/{group['id']}",
        {"schemas": [GROUP], "displayName": "Support", "members": []},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert team_state(app, team_id)[2] is True


def test_deleting_a_team_okta_never_linked_is_refused(app, scim):
    team_id = host_team(app, "Finance", ("carl@acme.example",))
    group = find(scim, "Finance")[0]
    assert_scim_error(scim.delete(f"/Groups/{group['id']}"), 403)
    assert team_state(app, team_id) == ("Finance", ["carl@acme.example"], False)


def test_another_organizations_teams_are_not_its_groups(app, scim):
    host_team(app, "Acme only")
    _, token = provisioning_org(app, "Globex")
    other = ScimClient(app, token)
    assert other.get("/Groups").get_json(force=True)["totalResults"] == 0
    assert (
        other.get('/Groups?filter=displayName eq "Acme only"').get_json(force=True)["totalResults"]
        == 0
    )


def test_cli_name_lookups_keep_working_for_linked_teams(app, scim):
    from tests.conftest import okta_cli_ok

    host_team(app, "Platform")
    group = find(scim, "Platform")[0]
    scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "replace", "value": {"displayName": "Platform"}}),
    )
    assert json.loads(okta_cli_ok(app, "team", "list", "Acme"))[0]["managed_by_okta"] is True
    okta_cli_ok(app, "team", "rename", "Acme", "Platform", "Plattform Ö")
    assert [g["id"] for g in find(scim, "plattform ö")] == [group["id"]]


def test_a_team_moved_to_another_organization_leaves_its_groups(app, scim):
    """The group row follows the team: the old organization's token loses it, unlinked."""
    ann = scim.post("/Users", user_body("ann@acme.example")).get_json(force=True)["id"]
    group = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Movers", "members": [{"value": ann}]}
    ).get_json(force=True)
    globex_id, token = provisioning_org(app, "Globex")
    with app.app_context(), okta.directory().atomic() as directory:
        team = directory.get_team(directory.get_organization("Acme"), "Movers")
        directory.remove_team_members(team, directory.team_members(team))
        team.organization_id = globex_id  # the host moves it, through its own ORM
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    assert scim.get("/Groups").get_json(force=True)["totalResults"] == 0
    assert_scim_error(scim.delete(f"/Groups/{group['id']}"), 404)
    globex = ScimClient(app, token)
    moved = globex.get(f"/Groups/{group['id']}").get_json(force=True)
    assert moved["displayName"] == "Movers" and moved.get("members", []) == []
    assert_scim_error(globex.delete(f"/Groups/{group['id']}"), 403)  # not Globex's Okta's
    user = scim.get(f"/Users/{ann}?attributes=groups").get_json(force=True)
    assert user.get("groups", []) == []
