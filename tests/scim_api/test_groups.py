"""SCIM Groups over HTTP: teams managed by Okta, membership, deletion with resources."""

from __future__ import annotations

import typing as t

import pytest
from sqlalchemy import select

from flask_okta_scim import signals
from sample_app.models import Monitor
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import assert_scim_error
from tests.conftest import listen
from tests.conftest import patch_body
from tests.conftest import user_body

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def users(scim: t.Any, *names: str) -> list[str]:
    return [
        scim.post("/Users", user_body(f"{n}@acme.example")).get_json(force=True)["id"]
        for n in names
    ]


def new_group(scim: t.Any, name: str, members: list[str] = ()) -> dict[str, t.Any]:
    r = scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]},
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(dict[str, t.Any], r.get_json(force=True))


def team(app: t.Any, name: str) -> tuple[list[str], bool]:
    with app.app_context():
        directory = okta.directory()
        org = directory.get_organization("Acme")
        found = directory.get_team(org, name)
        return [a.email for a in directory.team_members(found)], directory.managed_by_okta(found)


def test_a_pushed_group_is_a_team_managed_by_okta(app, scim):
    ann, bob = users(scim, "ann", "bob")
    with listen(signals.team_created) as created, listen(signals.team_members_changed) as changed:
        group = new_group(scim, "Engineering", [ann, bob])
    assert group["members"] == [
        {"value": ann, "$ref": f"https://app.example.test/scim/v2/Users/{ann}", "type": "User"},
        {"value": bob, "$ref": f"https://app.example.test/scim/v2/Users/{bob}", "type": "User"},
    ]
    assert team(app, "Engineering") == (["ann@acme.example", "bob@acme.example"], True)
    assert created[0][1]["managed_by_okta"] is True
    assert len(changed) == 1


def test_duplicate_group_names_are_a_conflict(scim):
    new_group(scim, "Ops")
    assert_scim_error(
        scim.post("/Groups", {"schemas": [GROUP], "displayName": "OPS"}), 409, "uniqueness"
    )
    other = new_group(scim, "Other")
    r = scim.patch(
        f"/Groups/{other['id']}",
        patch_body({"op": "replace", "value": {"id": other["id"], "displayName": "ops"}}),
    )
    assert_scim_error(r, 409, "uniqueness")


def test_group_list_filter_and_excluded_members(scim):
    (ann,) = users(scim, "ann")
    group = new_group(scim, "Test SCIMv2", [ann])
    r = scim.get("/Groups?filter=displayName%20eq%20%22test%20scimv2%22&excludedAttributes=members")
    page = r.get_json(force=True)
    assert page["totalResults"] == 1
    assert page["Resources"][0]["id"] == group["id"]
    assert "members" not in page["Resources"][0]
    r = scim.get(f"/Groups?filter=members%20eq%20%22{ann}%22")
    assert [g["id"] for g in r.get_json(force=True)["Resources"]] == [group["id"]]


def test_members_must_be_users_of_this_organization(app, scim):
    (ann,) = users(scim, "ann")
    group = new_group(scim, "Ops", [ann])
    r = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "add", "path": "members", "value": [{"value": "not-a-user"}]}),
    )
    assert_scim_error(r, 400, "invalidValue")
    assert "not-a-user" in r.get_json(force=True)["detail"]
    assert team(app, "Ops")[0] == ["ann@acme.example"]


@pytest.mark.app_config(OKTA_SCIM_TEAM_DELETION="delete")
def test_deleting_a_group_deletes_the_team_and_its_monitors(app, scim):
    (ann,) = users(scim, "ann")
    group = new_group(scim, "Doomed", [ann])
    with app.app_context():
        directory = okta.directory()
        found = directory.get_team(directory.get_organization("Acme"), "Doomed")
        db.session.add(Monitor(team_id=found.id, name="Homepage", url="https://x"))
        db.session.commit()
    with listen(signals.team_deleted) as deleted:
        assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert [kw["team"].name for _, kw in deleted] == ["Doomed"]
    with app.app_context():
        assert db.session.scalars(select(Monitor)).all() == []
        assert okta.directory().find_account("ann@acme.example") is not None
    assert_scim_error(scim.get(f"/Groups/{group['id']}"), 404)


@pytest.mark.app_config(OKTA_SCIM_TEAM_DELETION="delete")
def test_a_failing_receiver_keeps_the_team_and_answers_a_scim_500(app, scim):
    group = new_group(scim, "Kept")

    def refuse(sender: t.Any, **kwargs: t.Any) -> None:
        raise RuntimeError("the host could not delete the resources")

    signals.team_deleted.connect(refuse)
    try:
        r = scim.delete(f"/Groups/{group['id']}")
    finally:
        signals.team_deleted.disconnect(refuse)
    assert_scim_error(r, 500)
    assert "Traceback" not in r.get_data(as_text=True)
    assert "the host could not" not in r.get_data(as_text=True)
    assert scim.get(f"/Groups/{group['id']}").status_code == 200


def test_deactivation_leaves_the_team_and_reactivation_restores_it(app, scim):
    ann, bob = users(scim, "ann", "bob")
    group = new_group(scim, "Ops", [ann, bob])
    scim.patch(f"/Users/{ann}", patch_body({"op": "replace", "value": {"active": False}}))
    assert team(app, "Ops")[0] == ["bob@acme.example"]
    assert {
        m["value"] for m in scim.get(f"/Groups/{group['id']}").get_json(force=True)["members"]
    } == {ann, bob}
    scim.patch(f"/Users/{ann}", patch_body({"op": "replace", "value": {"active": True}}))
    assert team(app, "Ops")[0] == ["ann@acme.example", "bob@acme.example"]
    listed = scim.get(f"/Users?filter=id%20eq%20%22{ann}%22&attributes=groups,userName")
    user = listed.get_json(force=True)["Resources"][0]
    assert [g["display"] for g in user["groups"]] == ["Ops"]
    assert set(user) == {"schemas", "id", "active", "userName", "groups"}


def test_entra_removal_by_value_list_and_external_id(app, scim):
    ann, bob = users(scim, "ann", "bob")
    group = new_group(scim, "Ops", [ann, bob])
    r = scim.patch(
        f"/Groups/{group['id']}",
        patch_body(
            {"op": "Remove", "path": "members", "value": [{"value": ann}]},
            {"op": "Replace", "path": "externalId", "value": "entra-1"},
        ),
    )
    assert r.status_code == 204 and r.headers["ETag"] == 'W/"4"'
    got = scim.get(f"/Groups/{group['id']}").get_json(force=True)
    assert [m["value"] for m in got["members"]] == [bob] and got["externalId"] == "entra-1"
    r = scim.patch(
        f"/Groups/{group['id']}?excludedAttributes=externalId",
        patch_body({"op": "remove", "path": "members"}),
    )
    assert r.status_code == 200  # asked for attributes: the resource comes back
    assert r.get_json(force=True)["members"] == [] and "externalId" not in r.get_json(force=True)
    assert team(app, "Ops")[0] == []


def test_every_team_is_a_group(app, scim):
    """Rule 10: teams the host made are groups too (linking: test_link_group.py)."""
    with app.app_context(), okta.directory().atomic() as directory:
        directory.create_team(directory.get_organization("Acme"), "Hand made")
    listed = scim.get("/Groups").get_json(force=True)
    assert [g["displayName"] for g in listed["Resources"]] == ["Hand made"]


def test_members_are_not_read_when_the_answer_leaves_them_out(app, scim):
    """``attributes=displayName`` of a big group must not load its members to drop them."""
    from sqlalchemy import event

    from sample_app.models import db

    ann, bob = users(scim, "ann", "bob")
    group = new_group(scim, "Big", [ann, bob])
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for query in ("attributes=displayName", "excludedAttributes=members"):
            for path in ("/Groups", f"/Groups/{group['id']}"):
                statements.clear()
                body = scim.get(f"{path}?{query}").get_json(force=True)
                assert "members" not in str(body), (path, query)
                assert not [s for s in statements if "group_member" in s], (path, query)
        statements.clear()
        listed = scim.get("/Groups?attributes=members").get_json(force=True)
        assert len(listed["Resources"][0]["members"]) == 2
        assert [s for s in statements if "group_member" in s]
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_groups_and_members_asked_for_with_their_full_urn(scim):
    """``urn:…:2.0:User:groups``: the URN's own dots are not an attribute path."""
    (ann,) = users(scim, "ann")
    group = new_group(scim, "Urn", [ann])
    user = scim.get(
        f"/Users/{ann}?attributes=urn:ietf:params:scim:schemas:core:2.0:User:groups"
    ).get_json(force=True)
    assert [g["value"] for g in user["groups"]] == [group["id"]]
    listed = scim.get(
        "/Groups?attributes=urn:ietf:params:scim:schemas:core:2.0:Group:members.value"
    ).get_json(force=True)
    assert [m["value"] for m in listed["Resources"][0]["members"]] == [ann]
