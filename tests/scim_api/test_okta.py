"""Acceptance: Okta's traffic, replayed over HTTP with Okta's headers.

- Okta's published "SCIM 2.0 SPEC Test" (all 12 steps, in order, with its headers);
- the traffic Okta's "CRUD Test" induces (create, profile PUT, deactivate, lookup of the
  inactive user, reactivate on the same id, unassign);
- Group Push from an OIN app (PATCH) and from a custom app (PUT only);
- import paging.
"""

from __future__ import annotations

import json
import typing as t
import urllib.parse

import pytest

from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import user_body

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

#: The SPEC test's GET headers (Runscope export).
SPEC_GET = {
    "Accept-Charset": "utf-8",
    "Content-Type": "application/scim+json; charset=utf-8",
    "Accept": "application/scim+json",
    "User-Agent": "OKTA SCIM Integration",
}
#: The SPEC test's POST headers: plain application/json, no User-Agent.
SPEC_POST = {"Content-Type": "application/json", "Accept": "application/scim+json; charset=utf-8"}


def q(filter_: str) -> str:
    return urllib.parse.quote(filter_)


class SpecTestClient:
    """Sends exactly the SPEC test's headers; ``auth`` is the whole Authorization value."""

    def __init__(self, app: t.Any, auth: str) -> None:
        self.client = app.test_client()
        self.auth = auth

    def get(self, path: str, auth: str | None = None) -> t.Any:
        return self.client.get(
            "/scim/v2" + path, headers={**SPEC_GET, "Authorization": auth or self.auth}
        )

    def post(self, path: str, body: dict[str, t.Any]) -> t.Any:
        return self.client.post(
            "/scim/v2" + path,
            data=json.dumps(body),
            headers={**SPEC_POST, "Authorization": self.auth},
        )


def test_okta_spec_test_all_twelve_steps(app, scim, scim_org):
    # "Create at least one user in your SCIM server before running the suite."
    assert scim.post("/Users", user_body("seed.user@atko.com")).status_code == 201
    spec = SpecTestClient(app, f"Bearer {scim_org[1]}")
    given, family = "Runscope300", "Hfluaklab151"
    random_email = f"{given}{family}@atko.com"  # mixed case, as the initial script makes it
    steps = 0

    # 1. Test Users endpoint
    r = spec.get("/Users?count=1&startIndex=1")
    assert r.status_code == 200
    body = r.get_json(force=True)
    assert LIST in body["schemas"] and body["Resources"]
    assert all(isinstance(body[k], int) for k in ("itemsPerPage", "startIndex", "totalResults"))
    first = body["Resources"][0]
    for value in (
        first["id"],
        first["name"]["familyName"],
        first["name"]["givenName"],
        first["userName"],
        first["emails"][0]["value"],
    ):
        assert value
    assert first["active"] is True
    isv_user_id = first["id"]
    steps += 1

    # 2. Get Users/{{id}}
    r = spec.get(f"/Users/{isv_user_id}")
    assert r.status_code == 200 and r.get_json(force=True)["id"] == isv_user_id
    assert r.get_json(force=True)["name"]["givenName"]
    steps += 1

    # 3. Test invalid User by username
    r = spec.get("/Users?filter=" + q('userName eq "abcdefgh@atko.com"'))
    assert r.status_code == 200
    assert r.get_json(force=True)["totalResults"] == 0
    assert LIST in r.get_json(force=True)["schemas"]
    steps += 1

    # 4. Test invalid User by ID (not a UUID: still 404, never 400)
    r = spec.get("/Users/010101001010101011001010101011")
    assert_scim_error(r, 404)
    steps += 1

    # 5. Make sure random user doesn't exist
    r = spec.get("/Users?filter=" + q(f'userName eq "{random_email}"'))
    assert r.status_code == 200 and r.get_json(force=True)["totalResults"] == 0
    steps += 1

    # 6. Create Okta user with realistic values
    create = {
        "schemas": [USER],
        "userName": random_email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": random_email, "type": "work"}],
        "displayName": f"{given} {family}",
        "active": True,
    }
    r = spec.post("/Users", create)
    assert r.status_code == 201
    created = r.get_json(force=True)
    assert created["active"] is True and created["id"]
    assert created["name"] == {"givenName": given, "familyName": family}
    assert USER in created["schemas"]
    assert created["userName"] == random_email  # case-exact
    user_one = created["id"]
    steps += 1

    # 7. Verify that user was created
    r = spec.get(f"/Users/{user_one}")
    assert r.status_code == 200
    assert r.get_json(force=True)["userName"] == random_email
    assert r.get_json(force=True)["name"]["familyName"] == family
    steps += 1

    # 8. Expect failure when recreating user with same values
    again = dict(create, emails=[{"primary": True, "value": random_email, "type": "work"}])
    assert spec.post("/Users", again).status_code == 409
    steps += 1

    # 9. Username case sensitivity check (the right answer per RFC 7643 is one match)
    r = spec.get("/Users?filter=" + q(f'userName eq "{random_email.upper()}"'))
    assert r.status_code == 200
    assert [u["id"] for u in r.get_json(force=True)["Resources"]] == [user_one]
    steps += 1

    # 10. Optional: Groups endpoint
    r = spec.get("/Groups")
    assert r.status_code == 200
    assert isinstance(r.get_json(force=True)["Resources"], list)
    steps += 1

    # 11. 401 with an invalid token
    r = spec.get("/Users?filter=" + q(f'userName eq "{random_email.upper()}"'), auth="non-token")
    assert_scim_error(r, 401)
    steps += 1

    # 12. 404 for a user that does not exist
    assert_scim_error(spec.get("/Users/00919288221112222"), 404)
    steps += 1

    assert steps == 12


def lookup(scim: ScimClient, user_name: str) -> list[dict[str, t.Any]]:
    r = scim.get("/Users?filter=" + q(f'userName eq "{user_name}"') + "&startIndex=1&count=100")
    assert r.status_code == 200
    return t.cast(list[dict[str, t.Any]], r.get_json(force=True)["Resources"])


@pytest.mark.parametrize("mode", ["oin-patch", "aiw-put"])
def test_okta_crud_test_induced_traffic(app, scim, mode):
    email = "Runscope123Abcdefgh456@atko.com"
    # Assignment: lookup, then create with Okta's full body.
    assert lookup(scim, email) == []
    r = scim.post("/Users", user_body(email))
    assert r.status_code == 201
    user = r.get_json(force=True)
    scim_id = user["id"]
    assert "password" not in user
    assert r.headers["Location"] == user["meta"]["location"]
    found = lookup(scim, email)
    assert [u["id"] for u in found] == [scim_id]
    assert found[0]["emails"][0]["value"] == email

    # Profile update: GET, then PUT of what we returned, changed, with Okta's read-only junk.
    current = scim.get(f"/Users/{scim_id}").get_json(force=True)
    current["name"]["givenName"] = "Runscope123update"
    current["meta"] = {
        "created": "04-12-2018 00:00:00",
        "lastModified": "04-12-2018 00:00:00",
        "version": "v1.0",
    }
    current["groups"] = []
    current["password"] = "TkdFNVdIVkxhM2c9"
    r = scim.put(f"/Users/{scim_id}", current)
    assert r.status_code == 200 and r.get_json(force=True)["id"] == scim_id
    assert scim.get(f"/Users/{scim_id}").get_json(force=True)["name"]["givenName"] == (
        "Runscope123update"
    )

    def set_active(value: bool) -> None:
        if mode == "oin-patch":
            r = scim.patch(
                f"/Users/{scim_id}", patch_body({"op": "replace", "value": {"active": value}})
            )
        else:
            body = scim.get(f"/Users/{scim_id}").get_json(force=True)
            body["active"] = value
            r = scim.put(f"/Users/{scim_id}", body)
        assert r.status_code in (200, 204)

    # Deactivate: the user is still readable, inactive.
    set_active(False)
    r = scim.get(f"/Users/{scim_id}")
    assert r.status_code == 200 and r.get_json(force=True)["active"] is False
    # Reactivate: the lookup must find the inactive user; same id afterwards.
    assert [u["active"] for u in lookup(scim, email)] == [False]
    set_active(True)
    r = scim.get(f"/Users/{scim_id}")
    assert r.get_json(force=True)["active"] is True and r.get_json(force=True)["id"] == scim_id
    assert r.get_json(force=True)["name"]["givenName"] == "Runscope123update"
    # Unassign: deactivation again; GET answers 200 with active false.
    set_active(False)
    r = scim.get(f"/Users/{scim_id}")
    assert r.status_code == 200 and r.get_json(force=True)["active"] is False


def test_password_sync_patch_is_applied_and_never_returned(app, scim):
    from sample_app.models import okta

    r = scim.post("/Users", user_body("pat@atko.com"))
    scim_id = r.get_json(force=True)["id"]
    r = scim.patch(
        f"/Users/{scim_id}", patch_body({"op": "replace", "value": {"password": "NewP@ss1"}})
    )
    assert r.status_code == 200
    assert "password" not in r.get_data(as_text=True)
    with app.app_context():
        account = okta.directory().find_account("pat@atko.com")
        assert account.check_password("NewP@ss1")
        assert not account.check_password("1mz050nq")


def members_of(scim: ScimClient, group_id: str) -> set[str]:
    r = scim.get(f"/Groups/{group_id}")
    assert r.status_code == 200
    return {m["value"] for m in r.get_json(force=True).get("members", [])}


def make_users(scim: ScimClient, n: int, prefix: str = "member") -> list[str]:
    ids = []
    for i in range(n):
        r = scim.post("/Users", user_body(f"{prefix}{i}@atko.com"))
        assert r.status_code == 201, r.get_data(as_text=True)
        ids.append(r.get_json(force=True)["id"])
    return ids


def test_okta_group_push_oin_app(app, scim):
    uid1, uid2, uid3 = make_users(scim, 3)
    # 1. lookup
    r = scim.get("/Groups?filter=" + q('displayName eq "Test SCIMv2"') + "&startIndex=1&count=100")
    assert r.status_code == 200 and r.get_json(force=True)["totalResults"] == 0
    # 2. create
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})
    assert r.status_code == 201
    gid = r.get_json(force=True)["id"]
    assert r.headers["Location"].endswith(f"/Groups/{gid}")
    # 3. the path-less "rename" carrying the id, sent after every push
    r = scim.patch(
        f"/Groups/{gid}",
        patch_body({"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2"}}),
    )
    assert r.status_code in (200, 204)
    # 4. add members (no "type")
    r = scim.patch(
        f"/Groups/{gid}",
        patch_body(
            {
                "op": "add",
                "path": "members",
                "value": [
                    {"value": uid1, "display": "member0@atko.com"},
                    {"value": uid2, "display": "member1"},
                ],
            }
        ),
    )
    assert r.status_code in (200, 204)
    assert members_of(scim, gid) == {uid1, uid2}
    # 5. remove one by filter, add another, in one request
    r = scim.patch(
        f"/Groups/{gid}",
        patch_body(
            {"op": "remove", "path": f'members[value eq "{uid1}"]'},
            {"op": "add", "path": "members", "value": [{"value": uid3, "display": "member2"}]},
        ),
    )
    assert r.status_code in (200, 204)
    assert members_of(scim, gid) == {uid2, uid3}
    # 6. removing a non-member is a no-op
    r = scim.patch(
        f"/Groups/{gid}", patch_body({"op": "remove", "path": f'members[value eq "{uid1}"]'})
    )
    assert r.status_code in (200, 204) and members_of(scim, gid) == {uid2, uid3}
    # 7. Push Now: full replace
    r = scim.patch(
        f"/Groups/{gid}",
        patch_body(
            {"op": "replace", "path": "members", "value": [{"value": uid1, "display": "x"}]}
        ),
    )
    assert members_of(scim, gid) == {uid1}
    # 8. Push Now of an empty group
    scim.patch(f"/Groups/{gid}", patch_body({"op": "replace", "path": "members", "value": []}))
    assert members_of(scim, gid) == set()
    # 9. a real rename
    r = scim.patch(
        f"/Groups/{gid}",
        patch_body({"op": "replace", "value": {"id": gid, "displayName": "Renamed SCIMv2"}}),
    )
    assert r.status_code in (200, 204)
    # 10. GET shows it, the user shows the group
    scim.patch(
        f"/Groups/{gid}", patch_body({"op": "add", "path": "members", "value": [{"value": uid2}]})
    )
    group = scim.get(f"/Groups/{gid}").get_json(force=True)
    assert group["displayName"] == "Renamed SCIMv2"
    assert [m["value"] for m in group["members"]] == [uid2]
    assert "groups" not in scim.get(f"/Users/{uid2}").get_json(force=True)  # on request only
    user = scim.get(f"/Users/{uid2}?attributes=groups").get_json(force=True)
    assert [g["value"] for g in user["groups"]] == [gid]
    # 11. delete: 204, then 404; the member users are still there
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert_scim_error(scim.get(f"/Groups/{gid}"), 404)
    assert scim.get(f"/Users/{uid2}").get_json(force=True)["active"] is True


def test_group_push_of_a_hundred_members_in_one_patch(app, scim):
    ids = make_users(scim, 100, prefix="bulk")
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Big"}).get_json(force=True)[
        "id"
    ]
    r = scim.patch(
        f"/Groups/{gid}",
        patch_body({"op": "add", "path": "members", "value": [{"value": i} for i in ids]}),
    )
    assert r.status_code == 204
    assert members_of(scim, gid) == set(ids)


def test_okta_group_push_custom_app_put_only(app, scim):
    uid1, uid2, uid3 = make_users(scim, 3)
    r = scim.get("/Groups?filter=" + q('displayName eq "AIW Group"'))
    assert r.get_json(force=True)["totalResults"] == 0
    r = scim.post(
        "/Groups",
        {
            "schemas": [GROUP],
            "displayName": "AIW Group",
            "members": [{"value": uid1, "display": "a"}],
        },
    )
    assert r.status_code == 201
    gid = r.get_json(force=True)["id"]
    assert members_of(scim, gid) == {uid1}
    r = scim.put(
        f"/Groups/{gid}",
        {
            "schemas": [GROUP],
            "id": gid,
            "displayName": "AIW Group",
            "members": [{"value": uid2}, {"value": uid3}],
        },
    )
    assert r.status_code == 200
    assert members_of(scim, gid) == {uid2, uid3}
    # AIW deactivation is a PUT of the whole user with active false: the person leaves
    # the team, but stays in Okta's group; reactivation gives the team back.
    body = scim.get(f"/Users/{uid2}").get_json(force=True)
    body["active"] = False
    assert scim.put(f"/Users/{uid2}", body).status_code == 200
    assert members_of(scim, gid) == {uid2, uid3}
    assert team_emails(app, "AIW Group") == ["member2@atko.com"]
    body["active"] = True
    assert scim.put(f"/Users/{uid2}", body).status_code == 200
    assert team_emails(app, "AIW Group") == ["member1@atko.com", "member2@atko.com"]


def team_emails(app: t.Any, name: str) -> list[str]:
    from sample_app.models import okta

    with app.app_context():
        directory = okta.directory()
        org = directory.get_organization("Acme")
        return [a.email for a in directory.team_members(directory.get_team(org, name))]


def test_import_pages_through_every_user_in_a_stable_order(app, scim):
    ids = make_users(scim, 23, prefix="import")
    scim.patch(f"/Users/{ids[5]}", patch_body({"op": "replace", "value": {"active": False}}))
    seen: list[str] = []
    start = 1
    while True:
        r = scim.get(f"/Users?startIndex={start}&count=10")
        page = r.get_json(force=True)
        assert page["totalResults"] == 23 and page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"])
        seen += [u["id"] for u in page["Resources"]]
        start += 10
        if start > page["totalResults"]:
            break
    assert seen == ids  # everyone once, in creation order, the inactive user included
    assert scim.get("/Users?count=1").get_json(force=True)["itemsPerPage"] == 1
    assert scim.get("/Users?count=0").get_json(force=True)["Resources"] == []
