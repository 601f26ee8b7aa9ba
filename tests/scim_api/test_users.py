"""SCIM Users over HTTP: PUT and PATCH forms, attributes, versions, audit."""

from __future__ import annotations

import json
import typing as t

from sample_app.models import okta
from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import provisioning_org
from tests.conftest import user_body

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def create(scim: t.Any, user_name: str, **extra: t.Any) -> dict[str, t.Any]:
    r = scim.post("/Users", user_body(user_name, **extra))
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(dict[str, t.Any], r.get_json(force=True))


def test_create_returns_the_full_resource_with_location_and_etag(scim):
    r = scim.post("/Users", user_body("ann@acme.example"))
    body = r.get_json(force=True)
    assert r.status_code == 201 and r.mimetype == "application/scim+json"
    assert r.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"] == f"https://app.example.test/scim/v2/Users/{body['id']}"
    assert r.headers["ETag"] == body["meta"]["version"] == 'W/"1"'
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["created"].endswith("Z")
    assert body["emails"] == [{"primary": True, "value": "ann@acme.example", "type": "work"}]
    assert "password" not in body and "groups" not in body  # groups: on request only


def test_both_content_types_are_accepted(app, scim_org):
    client = app.test_client()
    for content_type in ("application/json", "application/scim+json; charset=utf-8"):
        r = client.post(
            "/scim/v2/Users",
            data=json.dumps(user_body(f"{content_type[12:16]}@acme.example")),
            headers={"Authorization": scim_org[1], "Content-Type": content_type},
        )
        assert r.status_code == 201
        assert r.mimetype == "application/scim+json"


def test_a_user_name_that_is_no_email_falls_back_to_the_primary_email(scim):
    body = user_body("ann@acme.example")
    body["userName"] = "ann.lee"
    user = scim.post("/Users", body).get_json(force=True)
    assert user["userName"] == "ann.lee"
    without = {"schemas": body["schemas"], "userName": "bob"}
    r = scim.post("/Users", without)
    assert_scim_error(r, 400, "invalidValue")
    assert "Email" in r.get_json(force=True)["detail"]


def test_enterprise_extension_round_trips(scim):
    extension = {
        "department": "Engineering",
        "employeeNumber": "42",
        "manager": {"value": "00u1", "displayName": "Boss"},
    }
    user = create(scim, "eve@acme.example", **{ENTERPRISE: extension})
    assert ENTERPRISE in user["schemas"]
    assert scim.get(f"/Users/{user['id']}").get_json(force=True)[ENTERPRISE] == extension
    r = scim.patch(
        f"/Users/{user['id']}",
        patch_body(
            {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Sales"},
            {"op": "Replace", "path": f"{ENTERPRISE}:manager.value", "value": "00u2"},
        ),
    )
    got = r.get_json(force=True)[ENTERPRISE]
    assert got["department"] == "Sales" and got["manager"] == {
        "value": "00u2",
        "displayName": "Boss",
    }


def test_put_ignores_read_only_attributes_and_takes_the_id_from_the_url(scim):
    user = create(scim, "fay@acme.example")
    other = create(scim, "gus@acme.example")
    body = dict(
        user,
        id=other["id"],
        meta={"created": "04-12-2018 00:00:00"},
        groups=[{"value": "nope"}],
        displayName="Fay Changed",
    )
    r = scim.put(f"/Users/{user['id']}", body)
    assert r.status_code == 200
    assert r.get_json(force=True)["id"] == user["id"]
    assert r.get_json(force=True)["displayName"] == "Fay Changed"
    assert scim.get(f"/Users/{other['id']}").get_json(force=True)["displayName"] != "Fay Changed"


def test_empty_strings_and_nulls_clear_attributes(scim):
    user = create(scim, "hal@acme.example", title="Engineer", nickName="Hal")
    body = dict(user, title="", nickName=None)
    got = scim.put(f"/Users/{user['id']}", body).get_json(force=True)
    assert "title" not in got and "nickName" not in got
    got = scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "value": {"name": {"givenName": "", "familyName": "Tester"}}}),
    ).get_json(force=True)
    assert got["name"] == {"familyName": "Tester"}


def test_entra_forms(scim):
    user = create(scim, "ivy@acme.example")
    r = scim.patch(
        f"/Users/{user['id']}",
        patch_body(
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ivy@acme.example"},
            {"op": "Add", "path": "name.familyName", "value": "Entra"},
        ),
    )
    assert r.status_code == 200
    got = r.get_json(force=True)
    assert got["active"] is False and got["name"]["familyName"] == "Entra"
    r = scim.patch(
        f"/Users/{user['id']}", patch_body({"op": "replace", "path": "active", "value": "True"})
    )
    assert r.get_json(force=True)["active"] is True


def test_a_user_name_change_is_a_conflict_when_taken(scim):
    create(scim, "jay@acme.example")
    kim = create(scim, "kim@acme.example")
    r = scim.patch(
        f"/Users/{kim['id']}",
        patch_body({"op": "replace", "path": "userName", "value": "JAY@acme.example"}),
    )
    assert_scim_error(r, 409, "uniqueness")
    assert scim.get(f"/Users/{kim['id']}").get_json(force=True)["userName"] == "kim@acme.example"


def test_if_match_protects_against_lost_updates(scim):
    user = create(scim, "lee@acme.example")
    stale = user["meta"]["version"]
    r = scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "path": "title", "value": "One"}),
        headers={"If-Match": stale},
    )
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"2"'
    r = scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "path": "title", "value": "Two"}),
        headers={"If-Match": stale},
    )
    assert_scim_error(r, 412)
    assert scim.get(f"/Users/{user['id']}").get_json(force=True)["title"] == "One"
    r = scim.get(f"/Users/{user['id']}", headers={"If-None-Match": 'W/"2"'})
    assert r.status_code == 304


def test_delete_detaches_and_hides_but_a_new_create_revives_the_same_id(app, scim, scim_org):
    user = create(scim, "max@acme.example")
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert_scim_error(scim.get(f"/Users/{user['id']}"), 404)
    assert (
        scim.get("/Users?filter=userName%20eq%20%22max@acme.example%22").get_json(force=True)[
            "totalResults"
        ]
        == 0
    )
    with app.app_context():
        directory = okta.directory()
        orphan = directory.find_account("max@acme.example")  # kept, disabled (the default)
        assert directory.is_disabled(orphan) and directory.organizations_of(orphan) == []
    again = create(scim, "max@acme.example")
    assert again["id"] == user["id"] and again["active"] is True


def test_scim_changes_are_audited_with_the_token_and_without_secrets(app, scim, scim_org):
    user = create(scim, "ned@acme.example")
    scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "value": {"password": "S3cret-Password!"}}),
    )
    assert scim.post("/Users", user_body("ned@acme.example")).status_code == 409
    with app.app_context():
        directory = okta.directory()
        rows = directory.audit_log(directory.get_organization(scim_org[0]))
        actions = [(r.action, r.outcome) for r in rows]
        assert ("user.provision", "success") in actions
        assert ("user.update", "success") in actions
        assert ("scim.post", "failure") in actions
        assert all(
            r.actor.startswith("scim:token:")
            for r in rows
            if r.action != "sso.connect"
            and not r.action.startswith(("organization", "scim.enable", "sso."))
        )
        dumped = json.dumps([r.detail for r in rows])
        assert "S3cret-Password!" not in dumped and "1mz050nq" not in dumped
        assert scim_org[1] not in dumped


def test_users_of_another_organization_share_the_account_but_not_the_profile(app, scim):
    _, other_token = provisioning_org(app, "Globex")
    from tests.conftest import ScimClient

    globex = ScimClient(app, other_token)
    create(globex, "oli@acme.example", displayName="Oli Globex")
    mine = create(scim, "oli@acme.example", displayName="Oli Acme")
    scim.patch(
        f"/Users/{mine['id']}",
        patch_body({"op": "replace", "value": {"displayName": "Renamed by Acme", "password": "x"}}),
    )
    with app.app_context():
        account = okta.directory().find_account("oli@acme.example")
        assert account.display_name == "Oli Globex"
        assert not account.check_password("x")


def test_active_not_sent_means_active_on_create_and_unchanged_on_put(scim):
    body = user_body("pia@acme.example")
    del body["active"]
    user = scim.post("/Users", body).get_json(force=True)
    assert user["active"] is True
    scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "value": {"active": False}}))
    profile = {k: v for k, v in user.items() if k not in ("active", "meta")}
    got = scim.put(f"/Users/{user['id']}", dict(profile, title="Still off")).get_json(force=True)
    assert got["active"] is False and got["title"] == "Still off"


def test_create_keeps_the_password_of_an_existing_account(app, scim):
    with app.app_context(), okta.directory().atomic() as directory:
        account, _ = directory.ensure_account("quin@acme.example")
        account.set_password("my own password")
    scim.post("/Users", user_body("quin@acme.example"))  # carries Okta's random password
    with app.app_context():
        account = okta.directory().find_account("quin@acme.example")
        assert account.check_password("my own password")
        assert not account.check_password("1mz050nq")
