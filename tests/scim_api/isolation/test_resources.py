"""B's token on A's Users and Groups: every verb answers 404, says nothing of A's data and
leaves A unchanged (``meta.version`` and audit log included); lists, paging and filters
show B only its own resources.
"""

from __future__ import annotations

import json
import typing as t

import pytest
from flask import Flask

from tests.conftest import ScimClient
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
