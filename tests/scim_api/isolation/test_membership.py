"""Group membership across organizations: B cannot create, put, patch-add or patch-remove
A's users in B's groups. The same userName, or the same person, in both organizations:
two independent identities, and deactivating one detaches the person from that
organization only.
"""

from __future__ import annotations

import json
import typing as t

import pytest
from flask import Flask

from sample_app.models import okta
from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.scim_api.isolation.tenants import Tenant
from tests.scim_api.isolation.tenants import audit_trail
from tests.scim_api.isolation.tenants import filtered
from tests.scim_api.isolation.tenants import get_json
from tests.scim_api.isolation.tenants import group_body
from tests.scim_api.isolation.tenants import member_ids
from tests.scim_api.isolation.tenants import snapshot
from tests.scim_api.isolation.tenants import user_group_ids


def team_member_emails(app: Flask, org_id: t.Any, team_name: str) -> list[str]:
    """The emails of the accounts in the organization's team (the host's view, not SCIM's)."""
    with app.app_context():
        directory = okta.directory(actor="test")
        team = directory.get_team(directory.get_organization(org_id), team_name)
        return [account.email for account in directory.team_members(team)]


def cli_user_show(app: Flask, email: str) -> t.Any:
    result = app.test_cli_runner().invoke(
        args=["okta-scim", "user", "show", email], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# -- B cannot put A's users into B's groups ------------------------------------------------------


@pytest.mark.parametrize("mixed", [False, True], ids=["only-a-user", "b-and-a-users"])
def test_b_cannot_create_a_group_with_an_a_user(
    app: Flask, tenants: tuple[Tenant, Tenant], mixed: bool
) -> None:
    a, b = tenants
    before_a, before_b = snapshot(a), snapshot(b)
    members = [b.user_id("bea"), a.user_id("ann")] if mixed else [a.user_id("ann")]
    resp = b.client.post("/Groups", group_body("Smuggled", members))
    assert_scim_error(resp, 400, "invalidValue")
    assert a.user_id("ann") in resp.get_json()["detail"]
    assert filtered(b.client, "Groups", 'displayName eq "Smuggled"')["totalResults"] == 0
    assert snapshot(b) == before_b
    assert snapshot(a) == before_a
    with app.app_context():
        directory = okta.directory()
        names = [team.name for team in directory.teams(directory.get_organization(b.org_id))]
        assert "Smuggled" not in names


@pytest.mark.parametrize("target", ["ann", "ava"], ids=["active-a-user", "inactive-a-user"])
def test_b_cannot_patch_add_an_a_user_to_a_b_group(
    tenants: tuple[Tenant, Tenant], target: str
) -> None:
    a, b = tenants
    before_a, before_b = snapshot(a), snapshot(b)
    gid = b.group_id("Beta Engineering")
    body = patch_body({"op": "add", "path": "members", "value": [{"value": a.user_id(target)}]})
    assert_scim_error(b.client.patch(f"/Groups/{gid}", body), 400, "invalidValue")
    assert snapshot(b) == before_b
    assert snapshot(a) == before_a
    # The same add with a B user works.
    body = patch_body({"op": "add", "path": "members", "value": [{"value": b.user_id("bob")}]})
    assert b.client.patch(f"/Groups/{gid}", body).status_code in (200, 204)
    assert member_ids(get_json(b.client, f"/Groups/{gid}")) == [b.user_id("bea"), b.user_id("bob")]


def test_b_cannot_put_an_a_user_into_a_b_group(tenants: tuple[Tenant, Tenant]) -> None:
    a, b = tenants
    before_a, before_b = snapshot(a), snapshot(b)
    gid = b.group_id("Beta Engineering")
    body = group_body("Beta Renamed", [b.user_id("bea"), b.user_id("bob"), a.user_id("abe")])
    assert_scim_error(b.client.put(f"/Groups/{gid}", body), 400, "invalidValue")
    assert snapshot(b) == before_b
    assert snapshot(a) == before_a


def test_b_patch_replace_members_with_a_and_b_ids_changes_nothing(
    tenants: tuple[Tenant, Tenant],
) -> None:
    a, b = tenants
    before_a, before_b = snapshot(a), snapshot(b)
    gid = b.group_id("Beta Engineering")
    body = patch_body(
        {"op": "replace", "value": {"id": gid, "displayName": "Beta Renamed"}},
        {"op": "add", "path": "members", "value": [{"value": b.user_id("bob")}]},
        {"op": "remove", "path": f'members[value eq "{b.user_id("bea")}"]'},
        {
            "op": "replace",
            "path": "members",
            "value": [{"value": b.user_id("bob")}, {"value": a.user_id("ann")}],
        },
    )
    assert_scim_error(b.client.patch(f"/Groups/{gid}", body), 400, "invalidValue")
    assert snapshot(b) == before_b, "the operations before the refused one were kept"
    assert snapshot(a) == before_a


@pytest.mark.parametrize("form", ["value-filter-path", "value-list"])
def test_b_patch_remove_of_an_a_user_from_a_b_group_is_a_no_op(
    app: Flask, tenants: tuple[Tenant, Tenant], form: str
) -> None:
    a, b = tenants
    before_a, before_b = snapshot(a), snapshot(b)
    audit_a = audit_trail(app, a.org_id)
    ann = a.user_id("ann")
    if form == "value-filter-path":
        operation = {"op": "remove", "path": f'members[value eq "{ann}"]'}
    else:
        operation = {"op": "remove", "path": "members", "value": [{"value": ann}]}
    for gid in b.group_ids:
        resp = b.client.patch(f"/Groups/{gid}", patch_body(operation))
        assert resp.status_code in (200, 204), resp.get_data(as_text=True)
    assert snapshot(b) == before_b  # members and meta.version unchanged
    assert snapshot(a) == before_a
    assert audit_trail(app, a.org_id) == audit_a


def test_b_remove_by_a_id_of_a_shared_person_keeps_the_b_membership(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    """The same person in both orgs: A's identity id means nothing to B, same account or not."""
    a, b = tenants
    pat_a = a.create_user("pat@shared.example")
    pat_b = b.create_user("pat@shared.example")
    assert pat_a["id"] != pat_b["id"]
    agid, bgid = a.group_id("Alpha Support"), b.group_id("Beta Empty")
    add = patch_body({"op": "add", "path": "members", "value": [{"value": pat_a["id"]}]})
    assert a.client.patch(f"/Groups/{agid}", add).status_code in (200, 204)
    add = patch_body({"op": "add", "path": "members", "value": [{"value": pat_b["id"]}]})
    assert b.client.patch(f"/Groups/{bgid}", add).status_code in (200, 204)
    a.users["pat"], b.users["pat"] = pat_a, pat_b
    before_a, before_b = snapshot(a), snapshot(b)

    # B names A's identity of the very account that is in B's group: nothing happens.
    remove = patch_body({"op": "remove", "path": f'members[value eq "{pat_a["id"]}"]'})
    resp = b.client.patch(f"/Groups/{bgid}", remove)
    assert resp.status_code in (200, 204), resp.get_data(as_text=True)
    assert member_ids(get_json(b.client, f"/Groups/{bgid}")) == [pat_b["id"]]
    assert filtered(b.client, "Groups", f'members eq "{pat_a["id"]}"')["totalResults"] == 0
    # Nor can B add the shared person by A's id.
    add = patch_body({"op": "add", "path": "members", "value": [{"value": pat_a["id"]}]})
    assert_scim_error(b.client.patch(f"/Groups/{b.group_id('Beta Engineering')}", add), 400)
    assert snapshot(b) == before_b
    assert snapshot(a) == before_a

    # Each org sees only its own identity and groups of the shared account.
    assert user_group_ids(a.client, pat_a["id"]) == [agid]
    assert user_group_ids(b.client, pat_b["id"]) == [bgid]


# -- the same userName, or the same person, in both organizations --------------------------------


def test_same_user_name_in_both_orgs_is_independent(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    jdoe_a = a.create_user(
        "jdoe", emails=[{"value": "jdoe@alpha.example", "primary": True}], externalId="x-a"
    )
    add = patch_body({"op": "add", "path": "members", "value": [{"value": jdoe_a["id"]}]})
    gid = a.group_id("Alpha Support")
    assert a.client.patch(f"/Groups/{gid}", add).status_code in (200, 204)
    a.users["jdoe"] = get_json(a.client, f"/Users/{jdoe_a['id']}")
    before_a = snapshot(a)

    resp = b.client.post(
        "/Users",
        user_body(
            "jdoe", emails=[{"value": "jdoe@beta.example", "primary": True}], externalId="x-b"
        ),
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    jdoe_b = resp.get_json()
    assert jdoe_b["id"] != jdoe_a["id"]
    assert user_group_ids(b.client, jdoe_b["id"]) == []
    assert [r["id"] for r in filtered(b.client, "Users", 'userName eq "jdoe"')["Resources"]] == [
        jdoe_b["id"]
    ]
    assert [r["id"] for r in filtered(a.client, "Users", 'userName eq "jdoe"')["Resources"]] == [
        jdoe_a["id"]
    ]
    # B's duplicate is refused in B only.
    again = user_body("jdoe", emails=[{"value": "jdoe2@beta.example", "primary": True}])
    assert_scim_error(b.client.post("/Users", again), 409, "uniqueness")

    # Deactivating and deleting it in B leaves A's jdoe, and its membership, alone.
    off = patch_body({"op": "replace", "value": {"active": False}})
    assert b.client.patch(f"/Users/{jdoe_b['id']}", off).status_code == 200
    assert b.client.delete(f"/Users/{jdoe_b['id']}").status_code == 204
    assert snapshot(a) == before_a
    assert user_group_ids(a.client, jdoe_a["id"]) == [gid]
    shown = cli_user_show(app, "jdoe@alpha.example")
    assert [(o["name"], [x["name"] for x in o["teams"]]) for o in shown["organizations"]] == [
        ("Alpha", ["Alpha Support"])
    ]
    gone = cli_user_show(app, "jdoe@beta.example")  # in no organization: kept, disabled
    assert gone["disabled"] is True and gone["organizations"] == []


DEACTIVATIONS = ["patch-active-false", "put-active-false", "delete"]


@pytest.mark.parametrize("how", DEACTIVATIONS)
def test_deactivating_a_shared_person_in_b_detaches_from_b_only(
    app: Flask, tenants: tuple[Tenant, Tenant], how: str
) -> None:
    a, b = tenants
    email = "pat@shared.example"
    pat_a = a.create_user(email, externalId="pat-a")
    agid = a.group_id("Alpha Engineering")
    add = patch_body({"op": "add", "path": "members", "value": [{"value": pat_a["id"]}]})
    assert a.client.patch(f"/Groups/{agid}", add).status_code in (200, 204)
    a.users["pat"] = get_json(a.client, f"/Users/{pat_a['id']}")

    resp = b.client.post("/Users", user_body(email, externalId="pat-b"))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    pat_b = resp.get_json()
    assert pat_b["id"] != pat_a["id"]
    bgid = b.group_id("Beta Engineering")
    add = patch_body({"op": "add", "path": "members", "value": [{"value": pat_b["id"]}]})
    assert b.client.patch(f"/Groups/{bgid}", add).status_code in (200, 204)

    shown = cli_user_show(app, email)
    assert sorted(o["name"] for o in shown["organizations"]) == ["Alpha", "Beta"]
    assert email in team_member_emails(app, b.org_id, "Beta Engineering")
    before_a = snapshot(a)

    if how == "patch-active-false":
        resp = b.client.patch(
            f"/Users/{pat_b['id']}", patch_body({"op": "replace", "value": {"active": False}})
        )
        assert resp.status_code == 200 and resp.get_json()["active"] is False
    elif how == "put-active-false":
        resp = b.client.put(f"/Users/{pat_b['id']}", user_body(email, active=False))
        assert resp.status_code == 200 and resp.get_json()["active"] is False
    else:
        assert b.client.delete(f"/Users/{pat_b['id']}").status_code == 204
        assert_scim_error(b.client.get(f"/Users/{pat_b['id']}"), 404)

    # B: the account left B's team; A's team keeps it.
    assert team_member_emails(app, b.org_id, "Beta Engineering") == ["bea@beta.example"]
    assert email in team_member_emails(app, a.org_id, "Alpha Engineering")
    # A: identity, version, groups and A's group membership untouched.
    assert snapshot(a) == before_a
    pat_a_now = get_json(a.client, f"/Users/{pat_a['id']}")
    assert pat_a_now["active"] is True
    assert user_group_ids(a.client, pat_a["id"]) == [agid]
    assert pat_a["id"] in member_ids(get_json(a.client, f"/Groups/{agid}"))
    # The account survives, in A only.
    shown = cli_user_show(app, email)
    assert shown is not None and shown["email"] == email
    assert [
        (o["id"], o["name"], o["role"], [x["name"] for x in o["teams"]])
        for o in shown["organizations"]
    ] == [(str(a.org_id), "Alpha", "member", ["Alpha Engineering"])]
