"""Tenant isolation of ``/scim/v2``: the bearer token alone decides which organization is seen.

Two organizations, Alpha (A) and Beta (B), are provisioned through SCIM with
their own tokens. B's token must never read, change, list, filter, or link to
A's Users and Groups; A's data must be byte-for-byte unchanged afterwards
(``meta.version`` included). The token tests cover disabled provisioning,
unknown tokens, other schemes, and rotation with and without a grace period.
"""

from __future__ import annotations

import base64
import json
import typing as t
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import delete

from flask_okta_scim.sqla.directory import connections as _connections
from sample_app.models import Organization
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import provisioning_org
from tests.conftest import user_body

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


# -- set-up -------------------------------------------------------------------------------------


@dataclass
class Tenant:
    """One organization as its SCIM client sees it."""

    app: Flask
    name: str
    org_id: t.Any
    token: str
    client: ScimClient
    users: dict[str, dict[str, t.Any]] = field(default_factory=dict)  # local part -> resource
    groups: dict[str, dict[str, t.Any]] = field(default_factory=dict)  # displayName -> resource

    def user_id(self, local: str) -> str:
        return t.cast(str, self.users[local]["id"])

    def group_id(self, name: str) -> str:
        return t.cast(str, self.groups[name]["id"])

    @property
    def user_ids(self) -> list[str]:
        return [u["id"] for u in self.users.values()]

    @property
    def group_ids(self) -> list[str]:
        return [g["id"] for g in self.groups.values()]

    def create_user(self, user_name: str, **extra: t.Any) -> dict[str, t.Any]:
        extra.setdefault("externalId", f"ext-{user_name}")
        resp = self.client.post("/Users", user_body(user_name, **extra))
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return t.cast(dict[str, t.Any], resp.get_json())

    def create_group(self, name: str, member_ids: list[str]) -> dict[str, t.Any]:
        resp = self.client.post("/Groups", group_body(name, member_ids, externalId=f"gext-{name}"))
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return t.cast(dict[str, t.Any], resp.get_json())


def group_body(name: str, member_ids: list[str], **extra: t.Any) -> dict[str, t.Any]:
    body: dict[str, t.Any] = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": i} for i in member_ids],
    }
    body.update(extra)
    return body


def make_tenant(
    app: Flask,
    name: str,
    domain: str,
    people: tuple[str, ...],
    groups: dict[str, tuple[str, ...]],
    inactive: tuple[str, ...] = (),
) -> Tenant:
    org_id, token = provisioning_org(app, name)
    tenant = Tenant(app, name, org_id, token, ScimClient(app, token))
    for local in people:
        tenant.users[local] = tenant.create_user(f"{local}@{domain}")
    for local in inactive:
        tenant.users[local] = tenant.create_user(f"{local}@{domain}", active=False)
    for group, members in groups.items():
        tenant.groups[group] = tenant.create_group(group, [tenant.user_id(m) for m in members])
    return tenant


@pytest.fixture
def tenants(app: Flask) -> tuple[Tenant, Tenant]:
    """Alpha (ann, abe, inactive ava; two groups) and Beta (bea, bob; two groups)."""
    a = make_tenant(
        app,
        "Alpha",
        "alpha.example",
        ("ann", "abe"),
        {"Alpha Engineering": ("ann", "abe"), "Alpha Support": ("abe",)},
        inactive=("ava",),
    )
    b = make_tenant(
        app,
        "Beta",
        "beta.example",
        ("bea", "bob"),
        {"Beta Engineering": ("bea",), "Beta Empty": ()},
    )
    # The fixture itself must be what the tests think it is.
    assert [m["value"] for m in a.groups["Alpha Engineering"]["members"]] == [
        a.user_id("ann"),
        a.user_id("abe"),
    ]
    assert a.users["ava"]["active"] is False
    return a, b


def snapshot(tenant: Tenant) -> dict[str, t.Any]:
    """Everything ``tenant`` can read about its own resources, with the ETags."""
    out: dict[str, t.Any] = {}
    for scim_id in tenant.user_ids:
        resp = tenant.client.get(f"/Users/{scim_id}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        out[f"Users/{scim_id}"] = (resp.get_json(), resp.headers.get("ETag"))
        out[f"Users/{scim_id}/groups"] = user_group_ids(tenant.client, scim_id)
    for scim_id in tenant.group_ids:
        resp = tenant.client.get(f"/Groups/{scim_id}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        out[f"Groups/{scim_id}"] = (resp.get_json(), resp.headers.get("ETag"))
    for listing in ("/Users", "/Groups"):
        resp = tenant.client.get(listing)
        assert resp.status_code == 200
        out[listing] = resp.get_json()
    return out


def get_json(client: ScimClient, path: str) -> dict[str, t.Any]:
    resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return t.cast(dict[str, t.Any], resp.get_json())


def user_group_ids(client: ScimClient, scim_id: str) -> list[str]:
    """The ids in the user's read-only ``groups`` attribute (returned only when asked for)."""
    resource = get_json(client, f"/Users/{scim_id}?attributes=groups")
    assert resource["id"] == scim_id
    return [g["value"] for g in resource.get("groups", [])]


def filtered(client: ScimClient, kind: str, expression: str) -> dict[str, t.Any]:
    return get_json(client, f"/{kind}?filter={quote(expression)}")


def member_ids(group: dict[str, t.Any]) -> list[str]:
    return [m["value"] for m in group.get("members", [])]


def audit_trail(app: Flask, org_id: t.Any) -> list[tuple[t.Any, ...]]:
    """The organization's audit rows (id, action, target, outcome)."""
    with app.app_context():
        directory = okta.directory(actor="test")
        organization = directory.get_organization(org_id)
        return [
            (row.id, row.action, row.target_id, row.outcome)
            for row in directory.audit_log(organization, limit=100_000)
        ]


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


def assert_unauthorized(resp: t.Any, what: str = "") -> None:
    assert resp.status_code == 401, f"{what}: {resp.status_code} {resp.get_data(as_text=True)}"
    assert_scim_error(resp, 401)
    challenge = resp.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("bearer"), (what, challenge)


# -- what B tries on A's resources ---------------------------------------------------------------

VERBS = ("GET", "PUT", "PATCH", "DELETE")
KINDS = ("Users", "Groups")


def attempt(
    client: ScimClient,
    kind: str,
    verb: str,
    scim_id: str,
    *,
    etag: str | None,
    own_user_id: str,
) -> t.Any:
    """A request that would succeed on the caller's own resource ``scim_id``.

    Writes carry ``If-Match`` with the resource's current ETag, so that a 404
    can only come from the organization scoping.
    """
    path = f"/{kind}/{scim_id}"
    headers = {"If-Match": etag} if etag and verb != "GET" else None
    if verb == "GET":
        return client.get(path)
    if verb == "DELETE":
        return client.delete(path, headers=headers)
    if kind == "Users":
        if verb == "PUT":
            body = user_body("mallory@beta.example", externalId="mallory", active=False)
            return client.put(path, body, headers=headers)
        body = patch_body(
            {"op": "replace", "value": {"active": False, "displayName": "Mallory"}},
        )
        return client.patch(path, body, headers=headers)
    if verb == "PUT":
        return client.put(path, group_body("Hijacked", [own_user_id]), headers=headers)
    body = patch_body(
        {"op": "replace", "value": {"id": scim_id, "displayName": "Hijacked"}},
        {"op": "add", "path": "members", "value": [{"value": own_user_id}]},
    )
    return client.patch(path, body, headers=headers)


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("kind", KINDS)
def test_b_token_gets_404_for_every_a_resource_and_a_is_unchanged(
    app: Flask, tenants: tuple[Tenant, Tenant], kind: str, verb: str
) -> None:
    a, b = tenants
    before = snapshot(a)
    audit_before = audit_trail(app, a.org_id)
    a_ids = a.user_ids if kind == "Users" else a.group_ids
    assert len(a_ids) >= 2

    for scim_id in a_ids:
        etag = before[f"{kind}/{scim_id}"][1]
        resp = attempt(b.client, kind, verb, scim_id, etag=etag, own_user_id=b.user_id("bea"))
        assert_scim_error(resp, 404)
        text = resp.get_data(as_text=True)
        for user in a.users.values():  # the 404 says nothing about A's data
            assert user["userName"] not in text
        for name in a.groups:
            assert name not in text

    assert snapshot(a) == before
    assert audit_trail(app, a.org_id) == audit_before, "B's requests left traces in A's audit log"

    # The same request on B's own resource works: the 404 above is the scoping.
    own = b.user_id("bob") if kind == "Users" else b.group_id("Beta Engineering")
    own_etag = b.client.get(f"/{kind}/{own}").headers["ETag"]
    resp = attempt(b.client, kind, verb, own, etag=own_etag, own_user_id=b.user_id("bea"))
    assert resp.status_code in (200, 204), resp.get_data(as_text=True)


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_gets_404_for_b_resources(tenants: tuple[Tenant, Tenant], kind: str) -> None:
    a, b = tenants
    before = snapshot(b)
    for scim_id in b.user_ids if kind == "Users" else b.group_ids:
        assert_scim_error(a.client.get(f"/{kind}/{scim_id}"), 404)
        assert_scim_error(a.client.delete(f"/{kind}/{scim_id}"), 404)
    assert snapshot(b) == before


def test_deleted_a_user_id_is_404_for_b_and_b_delete_does_not_touch_it(
    tenants: tuple[Tenant, Tenant],
) -> None:
    a, b = tenants
    ann = a.user_id("ann")
    assert a.client.delete(f"/Users/{ann}").status_code == 204
    assert_scim_error(b.client.get(f"/Users/{ann}"), 404)
    # B re-creating A's userName in B is a new B user, not a revival of A's deleted id.
    revived = b.create_user("ann@alpha.example")
    assert revived["id"] != ann
    assert_scim_error(a.client.get(f"/Users/{ann}"), 404)
    assert filtered(a.client, "Users", 'userName eq "ann@alpha.example"')["totalResults"] == 0


# -- lists and filters ---------------------------------------------------------------------------


def test_b_lists_only_its_own_users_and_groups(tenants: tuple[Tenant, Tenant]) -> None:
    a, b = tenants
    users = get_json(b.client, "/Users")
    assert users["totalResults"] == len(b.users) == 2
    assert sorted(r["id"] for r in users["Resources"]) == sorted(b.user_ids)
    with_groups = get_json(b.client, "/Users?attributes=groups")
    assert sorted(r["id"] for r in with_groups["Resources"]) == sorted(b.user_ids)
    for resource in with_groups["Resources"]:
        assert {g["value"] for g in resource.get("groups", [])} <= set(b.group_ids)
    assert [g["value"] for g in with_groups["Resources"][0].get("groups", [])] == [
        b.group_id("Beta Engineering")
    ]

    groups = get_json(b.client, "/Groups")
    assert groups["totalResults"] == len(b.groups) == 2
    assert sorted(r["id"] for r in groups["Resources"]) == sorted(b.group_ids)
    for resource in groups["Resources"]:
        assert set(member_ids(resource)) <= set(b.user_ids)

    text = json.dumps([users, groups])
    for scim_id in a.user_ids + a.group_ids:
        assert scim_id not in text
    for user in a.users.values():
        assert user["userName"] not in text

    # Paging past B's end never spills into A's rows.
    page = get_json(b.client, "/Users?startIndex=2&count=100")
    assert page["totalResults"] == 2 and [r["id"] for r in page["Resources"]] == [b.user_id("bob")]


USER_FILTERS = [
    'userName eq "{userName}"',
    'userName eq "{userName_upper}"',
    'id eq "{id}"',
    'externalId eq "{externalId}"',
    'emails.value eq "{userName}"',
    'emails[value eq "{userName}"]',
    'userName sw "{local}"',
    'userName ew "@alpha.example"',
    'userName co "alpha"',
    'id eq "{id}" or userName eq "{userName}"',
    'active eq false and userName eq "{userName}"',
]


@pytest.mark.parametrize("expression", USER_FILTERS)
def test_b_user_filters_never_match_a_users(
    tenants: tuple[Tenant, Tenant], expression: str
) -> None:
    a, b = tenants
    for local in ("ann", "ava"):  # an active and an inactive A user
        user = a.users[local]
        text = expression.format(
            userName=user["userName"],
            userName_upper=user["userName"].upper(),
            id=user["id"],
            externalId=user["externalId"],
            local=local,
        )
        if "active eq false" in text and user["active"]:
            text = text.replace("active eq false", "active eq true")
        # Control: the filter is valid and finds the user with A's token.
        found = filtered(a.client, "Users", text)
        assert user["id"] in [r["id"] for r in found["Resources"]], text
        seen = filtered(b.client, "Users", text)
        assert seen["totalResults"] == 0, (text, seen)
        assert seen["Resources"] == []


GROUP_FILTERS = [
    'displayName eq "{displayName}"',
    'displayName eq "{displayName_lower}"',
    'displayName sw "Alpha"',
    'id eq "{id}"',
    'externalId eq "{externalId}"',
    'members eq "{member}"',
    'members.value eq "{member}"',
    'displayName eq "{displayName}" or members eq "{member}"',
]


@pytest.mark.parametrize("expression", GROUP_FILTERS)
def test_b_group_filters_never_match_a_groups(
    tenants: tuple[Tenant, Tenant], expression: str
) -> None:
    a, b = tenants
    group = a.groups["Alpha Engineering"]
    text = expression.format(
        displayName=group["displayName"],
        displayName_lower=group["displayName"].lower(),
        id=group["id"],
        externalId=group["externalId"],
        member=a.user_id("ann"),
    )
    found = filtered(a.client, "Groups", text)
    assert group["id"] in [r["id"] for r in found["Resources"]], text
    seen = filtered(b.client, "Groups", text)
    assert seen["totalResults"] == 0, (text, seen)
    assert seen["Resources"] == []


def test_b_members_pr_filter_lists_only_b_groups_with_b_members(
    tenants: tuple[Tenant, Tenant],
) -> None:
    _, b = tenants
    seen = filtered(b.client, "Groups", "members pr")
    assert [r["id"] for r in seen["Resources"]] == [b.group_id("Beta Engineering")]
    assert member_ids(seen["Resources"][0]) == [b.user_id("bea")]


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
    assert cli_user_show(app, "jdoe@beta.example") is None


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


# -- tokens --------------------------------------------------------------------------------------


def every_endpoint(tenant: Tenant) -> list[tuple[str, str, t.Any]]:
    """One request of each kind the SCIM API authenticates, on ``tenant``'s resources."""
    uid, gid = tenant.user_id("ann"), tenant.group_id("Alpha Engineering")
    by_user_name = quote('userName eq "ann@alpha.example"')
    by_display_name = quote('displayName eq "Alpha Engineering"')
    return [
        ("GET", "/Users", None),
        ("GET", f"/Users?filter={by_user_name}", None),
        ("POST", "/Users", user_body("newcomer@alpha.example")),
        ("GET", f"/Users/{uid}", None),
        ("PUT", f"/Users/{uid}", user_body("ann@alpha.example", active=False)),
        ("PATCH", f"/Users/{uid}", patch_body({"op": "replace", "value": {"active": False}})),
        ("DELETE", f"/Users/{uid}", None),
        ("GET", "/Groups", None),
        ("GET", f"/Groups?filter={by_display_name}", None),
        ("POST", "/Groups", group_body("Newcomers", [])),
        ("GET", f"/Groups/{gid}", None),
        ("PUT", f"/Groups/{gid}", group_body("Renamed", [])),
        ("PATCH", f"/Groups/{gid}", patch_body({"op": "remove", "path": "members"})),
        ("DELETE", f"/Groups/{gid}", None),
    ]


def assert_refused_everywhere(client: ScimClient, tenant: Tenant, **kw: t.Any) -> None:
    for method, path, body in every_endpoint(tenant):
        assert_unauthorized(client.request(method, path, body, **kw), f"{method} {path}")


def disable(app: Flask, org_id: t.Any) -> None:
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        directory.disable_provisioning(directory.get_organization(org_id))


def enable(app: Flask, org_id: t.Any) -> str:
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        return t.cast(str, directory.enable_provisioning(directory.get_organization(org_id)))


def rotate(app: Flask, org_id: t.Any, grace: timedelta) -> str:
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        return t.cast(str, directory.rotate_token(directory.get_organization(org_id), grace=grace))


def works(app: Flask, token: str, expected_user_ids: list[str]) -> bool:
    """Whether ``token`` authenticates, checking it sees exactly the expected organization."""
    resp = ScimClient(app, token).get("/Users")
    if resp.status_code == 401:
        assert_unauthorized(resp)
        return False
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert sorted(r["id"] for r in resp.get_json()["Resources"]) == sorted(expected_user_ids)
    return True


def test_disabled_provisioning_token_gets_401_everywhere_and_changes_nothing(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    before_a, before_b = snapshot(a), snapshot(b)
    disable(app, a.org_id)
    assert_refused_everywhere(a.client, a)
    assert_refused_everywhere(a.client, a, headers={"Authorization": a.token})  # bare, too
    assert snapshot(b) == before_b  # B keeps working, unchanged

    new_token = enable(app, a.org_id)
    assert new_token != a.token
    assert_unauthorized(a.client.get("/Users"), "the old token after re-enabling")
    a.client = ScimClient(app, new_token)
    assert snapshot(a) == before_a


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-token-anyone-issued",
        "Bearer ",
        "Bearer",
        "",
        "Bearer two words",
        "Bearer " + "x" * 600,
        "Basic {b64}",
        "Basic {token}",
        "Token {token}",
        "Bearer {token}x",
        "Bearer {token_upper}",
    ],
    ids=[
        "unknown",
        "empty-bearer",
        "bearer-only",
        "empty-header",
        "two-words",
        "very-long",
        "basic-base64",
        "basic-raw-token",
        "other-scheme",
        "token-plus-one-char",
        "token-upper-case",
    ],
)
def test_bad_authorization_gets_401_everywhere(
    tenants: tuple[Tenant, Tenant], authorization: str
) -> None:
    a, _ = tenants
    before = snapshot(a)
    value = authorization.format(
        token=a.token,
        token_upper=a.token.upper(),
        b64=base64.b64encode(f"{a.token}:".encode()).decode(),
    )
    assert_refused_everywhere(a.client, a, headers={"Authorization": value})
    assert snapshot(a) == before


def test_missing_authorization_gets_401_everywhere(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    before = snapshot(a)
    assert_refused_everywhere(ScimClient(app, None), a)
    assert snapshot(a) == before


def test_token_of_a_deleted_organization_gets_401(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    before_b = snapshot(b)
    with app.app_context():
        db.session.execute(delete(Organization).where(Organization.id == a.org_id))
        db.session.commit()
    assert_unauthorized(a.client.get("/Users"), "deleted organization")
    assert_unauthorized(a.client.get(f"/Users/{a.user_id('ann')}"), "deleted organization")
    assert snapshot(b) == before_b


@pytest.mark.parametrize(
    "authorization",
    ["{token}", "bearer {token}", "BEARER {token}", "  Bearer   {token}  "],
    ids=["bare", "lower-case-bearer", "upper-case-bearer", "extra-spaces"],
)
def test_accepted_authorization_forms_see_only_their_organization(
    tenants: tuple[Tenant, Tenant], authorization: str
) -> None:
    a, b = tenants
    headers = {"Authorization": authorization.format(token=b.token)}
    resp = b.client.get("/Users", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert sorted(r["id"] for r in resp.get_json()["Resources"]) == sorted(b.user_ids)
    assert_scim_error(b.client.get(f"/Users/{a.user_id('ann')}", headers=headers), 404)
    created = b.client.post("/Users", user_body("carl@beta.example"), headers=headers)
    assert created.status_code == 201
    assert filtered(a.client, "Users", 'userName eq "carl@beta.example"')["totalResults"] == 0


# -- rotation ------------------------------------------------------------------------------------


def test_rotation_keeps_old_token_until_the_new_one_is_used(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    old = a.token
    new = rotate(app, a.org_id, timedelta(hours=1))
    assert new != old
    assert works(app, old, a.user_ids)
    assert works(app, old, a.user_ids)  # using the old one does not retire anything
    assert works(app, new, a.user_ids)
    assert not works(app, old, a.user_ids)
    assert works(app, new, a.user_ids)
    assert works(app, b.token, b.user_ids), "A's rotation retired B's token"


def test_rotation_old_token_stops_when_the_grace_runs_out(
    app: Flask, tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tenants
    new = rotate(app, a.org_id, timedelta(minutes=10))
    assert works(app, a.token, a.user_ids)
    real = _connections.utcnow
    monkeypatch.setattr(_connections, "utcnow", lambda: real() + timedelta(minutes=11))
    assert not works(app, a.token, a.user_ids)
    assert works(app, new, a.user_ids)
    assert works(app, b.token, b.user_ids)


def test_rotation_with_zero_grace_stops_the_old_token_at_once(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    new = rotate(app, a.org_id, timedelta(0))
    assert not works(app, a.token, a.user_ids)
    assert works(app, new, a.user_ids)
    assert works(app, b.token, b.user_ids)


def test_zero_grace_rotation_stops_every_older_token_at_once(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    """An emergency rotation (grace 0) after a graceful one must also stop the first token."""
    a, _ = tenants
    middle = rotate(app, a.org_id, timedelta(hours=1))
    newest = rotate(app, a.org_id, timedelta(0))
    assert not works(app, middle, a.user_ids)
    assert not works(app, a.token, a.user_ids), "the first token survived a zero-grace rotation"
    assert works(app, newest, a.user_ids)


def test_first_use_of_the_new_token_retires_the_old_one_even_if_the_request_fails(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    new = rotate(app, a.org_id, timedelta(hours=1))
    assert_scim_error(ScimClient(app, new).get("/Users/no-such-id"), 404)
    assert not works(app, a.token, a.user_ids), "the old token outlived the new token's first use"
    assert works(app, new, a.user_ids)


def test_rotation_in_b_never_affects_a(app: Flask, tenants: tuple[Tenant, Tenant]) -> None:
    a, b = tenants
    before_a = snapshot(a)
    new_b = rotate(app, b.org_id, timedelta(0))
    assert works(app, new_b, b.user_ids)
    assert not works(app, b.token, b.user_ids)
    assert works(app, a.token, a.user_ids)
    assert snapshot(a) == before_a
