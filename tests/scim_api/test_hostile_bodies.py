"""Hostile SCIM bodies over HTTP, on SQLite and PostgreSQL: every value longer than its column
is a 400 ``invalidValue`` naming the attribute, whichever request form carries it (POST, PUT,
PATCH with a path, without a path, with a value filter), never a 500; and the enterprise
``manager`` Entra sends as a bare id is kept, returned and found as ``{"value": id}``.
"""

from __future__ import annotations

import typing as t
import urllib.parse

import pytest

from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import user_body

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
E = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
OK = "ann@acme.example"
LONG_EMAIL = "a" * 310 + "@acme.example"  # 323 > 320
#: 318 characters, a valid address; lower-cased (the lookup column) 382: "İ".lower() is 2.
FOLDING_EMAIL = "İ" * 64 + "@" + ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57]) + ".com"
MANAGER = "26118915-6090-4be5-9a3b-0123456789ab"

#: attribute -> (name the error must say, what POST/PUT bodies carry, PATCH forms:
#: form -> operation). The value is always one character over the column.
USER_LIMITS: dict[str, tuple[str, dict[str, t.Any], dict[str, dict[str, t.Any]]]] = {
    "userName": (
        "userName",
        {"userName": "u" * 500 + "@acme.example"},  # 513
        {
            "path": {"op": "replace", "path": "userName", "value": "u" * 500 + "@acme.example"},
            "no path": {"op": "replace", "value": {"userName": "u" * 500 + "@acme.example"}},
        },
    ),
    "userName as email": (
        "userName",
        {"userName": FOLDING_EMAIL},  # fits userName (512), not the account's email_key (320)
        {
            "path": {"op": "replace", "path": "userName", "value": FOLDING_EMAIL},
            "no path": {"op": "replace", "value": {"userName": FOLDING_EMAIL}},
        },
    ),
    "displayName": (
        "displayName",
        {"displayName": "d" * 513},
        {
            "path": {"op": "replace", "path": "displayName", "value": "d" * 513},
            "no path": {"op": "replace", "value": {"displayName": "d" * 513}},
        },
    ),
    "externalId": (
        "externalId",
        {"externalId": "x" * 513},
        {
            "path": {"op": "add", "path": "externalId", "value": "x" * 513},
            "no path": {"op": "replace", "value": {"externalId": "x" * 513}},
        },
    ),
    "primary email": (
        "emails.value",
        {"emails": [{"value": LONG_EMAIL, "primary": True, "type": "work"}]},
        {
            "path": {"op": "replace", "path": "emails", "value": [{"value": LONG_EMAIL}]},
            "no path": {"op": "replace", "value": {"emails": [{"value": LONG_EMAIL}]}},
            "filter": {
                "op": "replace",
                "path": 'emails[type eq "work"].value',
                "value": LONG_EMAIL,
            },
        },
    ),
    "other email": (
        "emails.value",
        {
            "emails": [
                {"value": OK, "primary": True, "type": "work"},
                {"value": LONG_EMAIL, "type": "home"},
            ]
        },
        {
            "path": {"op": "add", "path": "emails", "value": [{"value": LONG_EMAIL}]},
            "no path": {"op": "add", "value": {"emails": [{"value": LONG_EMAIL, "type": "x"}]}},
            "filter": {"op": "add", "path": 'emails[type eq "home"].value', "value": LONG_EMAIL},
        },
    ),
    "email type": (
        "emails.type",
        {"emails": [{"value": OK, "primary": True, "type": "t" * 51}]},
        {
            "path": {"op": "add", "path": "emails", "value": [{"value": OK, "type": "t" * 51}]},
            "no path": {"op": "replace", "value": {"emails": [{"value": OK, "type": "t" * 51}]}},
            "filter": {"op": "replace", "path": f'emails[value eq "{OK}"].type', "value": "t" * 51},
        },
    ),
    "manager": (
        "manager.value",
        {E: {"manager": "m" * 513}},  # Entra's bare id
        {
            "path": {"op": "Add", "path": f"{E}:manager", "value": "m" * 513},
            "no path": {"op": "replace", "value": {E: {"manager": {"value": "m" * 513}}}},
            "filter": {"op": "replace", "path": f"{E}:manager.value", "value": "m" * 513},
        },
    ),
}

USER_CASES = [
    pytest.param(attribute, form, id=f"{attribute}-{form}")
    for attribute, (_, _, patches) in USER_LIMITS.items()
    for form in ("POST", "PUT", *patches)
]


def create(scim: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    r = scim.post("/Users", user_body(OK, **extra))
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(dict[str, t.Any], r.get_json(force=True))


def refused(response: t.Any, name: str) -> None:
    assert_scim_error(response, 400, "invalidValue")
    assert name in response.get_json(force=True)["detail"]


@pytest.mark.parametrize(("attribute", "form"), USER_CASES)
def test_user_values_longer_than_their_column_are_a_400_in_every_form(scim, attribute, form):
    name, fields, patches = USER_LIMITS[attribute]
    if form == "POST":
        refused(scim.post("/Users", user_body(OK, **fields)), name)
        return
    user = create(scim, **{E: {"department": "R&D"}})
    if form == "PUT":
        response = scim.put(f"/Users/{user['id']}", user_body(OK, **fields))
    else:
        response = scim.patch(f"/Users/{user['id']}", patch_body(patches[form]))
    refused(response, name)
    assert scim.get(f"/Users/{user['id']}").get_json(force=True)["userName"] == OK


def test_user_values_at_their_column_length_are_kept(scim):
    longest = "a" * 64 + "@" + ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57]) + ".com"
    user = create(
        scim,
        userName="u" * 512,
        displayName="d" * 512,
        externalId="x" * 512,
        emails=[{"value": longest, "primary": True, "type": "t" * 50}, {"value": "b" * 320}],
        **{E: {"manager": "m" * 512}},
    )
    assert (user["userName"], user["displayName"]) == ("u" * 512, "d" * 512)
    assert user["emails"][1] == {"value": "b" * 320}
    assert user[E]["manager"] == {"value": "m" * 512}


GROUP_LIMITS = {
    "displayName": ("displayName", "g" * 201),
    "externalId": ("externalId", "x" * 513),
}
GROUP_CASES = [
    pytest.param(attribute, form, id=f"{attribute}-{form}")
    for attribute in GROUP_LIMITS
    for form in ("POST", "PUT", "path", "no path", "urn path")
]


@pytest.mark.parametrize(("attribute", "form"), GROUP_CASES)
def test_group_values_longer_than_their_column_are_a_400_in_every_form(scim, attribute, form):
    name, long = GROUP_LIMITS[attribute]
    body = {"schemas": [GROUP], "displayName": "Ops", attribute: long}
    if form == "POST":
        refused(scim.post("/Groups", body), name)
        return
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Ops"})
    group = r.get_json(force=True)["id"]
    operation = {
        "PUT": None,
        "path": {"op": "replace", "path": attribute, "value": long},
        "no path": {"op": "replace", "value": {"id": group, attribute: long}},
        "urn path": {"op": "replace", "path": f"{GROUP}:{attribute}", "value": long},
    }[form]
    if operation is None:
        response = scim.put(f"/Groups/{group}", body)
    else:
        response = scim.patch(f"/Groups/{group}", patch_body(operation))
    refused(response, name)
    assert scim.get(f"/Groups/{group}").get_json(force=True)["displayName"] == "Ops"


def test_many_member_removals_in_one_patch_are_one_change(scim):
    ids = [
        scim.post("/Users", user_body(f"u{i}@acme.example")).get_json(force=True)["id"]
        for i in range(3)
    ]
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Ops"})
    group = r.get_json(force=True)["id"]
    scim.patch(
        f"/Groups/{group}",
        patch_body({"op": "add", "path": "members", "value": [{"value": i} for i in ids]}),
    )
    removals = [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in ids[:2] * 300]
    assert scim.patch(f"/Groups/{group}", patch_body(*removals)).status_code == 204
    members = scim.get(f"/Groups/{group}").get_json(force=True)["members"]
    assert [m["value"] for m in members] == ids[2:]


# -- Entra's manager ------------------------------------------------------------------------------


def managed_by(scim: t.Any, manager: str) -> list[str]:
    query = urllib.parse.quote(f'{E}:manager.value eq "{manager}"')
    page = scim.get(f"/Users?filter={query}").get_json(force=True)
    return [r["id"] for r in page["Resources"]]


def test_a_bare_id_manager_is_returned_as_an_object_and_found_by_its_value(scim):
    user = create(scim, **{E: {"manager": MANAGER, "department": "R&D"}})
    assert user[E] == {"manager": {"value": MANAGER}, "department": "R&D"}
    assert scim.get(f"/Users/{user['id']}").get_json(force=True)[E]["manager"] == {"value": MANAGER}
    assert managed_by(scim, MANAGER) == [user["id"]]


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param({"op": "Add", "path": f"{E}:manager", "value": MANAGER}, id="entra-bare"),
        pytest.param(
            {"op": "Replace", "path": f"{E}:manager", "value": {"value": MANAGER}},
            id="entra-object",
        ),
        pytest.param({"op": "replace", "path": f"{E}:manager.value", "value": MANAGER}, id="okta"),
        pytest.param({"op": "replace", "value": {f"{E}:manager": MANAGER}}, id="no-path"),
        pytest.param({"op": "add", "value": {E: {"manager": MANAGER}}}, id="extension"),
    ],
)
def test_every_patch_form_of_the_manager_stores_an_object(scim, operation):
    user = create(scim)
    r = scim.patch(f"/Users/{user['id']}", patch_body(operation))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json(force=True)[E]["manager"] == {"value": MANAGER}
    assert managed_by(scim, MANAGER) == [user["id"]]


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param({"op": "Remove", "path": f"{E}:manager"}, id="remove"),
        pytest.param({"op": "Replace", "path": f"{E}:manager", "value": ""}, id="empty"),
        pytest.param({"op": "Replace", "path": f"{E}:manager", "value": None}, id="null"),
        pytest.param({"op": "replace", "path": f"{E}:manager.value", "value": ""}, id="okta-empty"),
    ],
)
def test_removing_the_manager(scim, operation):
    user = create(scim, **{E: {"manager": MANAGER, "department": "R&D"}})
    r = scim.patch(f"/Users/{user['id']}", patch_body(operation))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json(force=True)[E] == {"department": "R&D"}
    assert managed_by(scim, MANAGER) == []


def test_a_manager_that_is_neither_an_id_nor_an_object_is_refused(scim):
    refused(scim.post("/Users", user_body(OK, **{E: {"manager": 5}})), "manager")


def test_values_whose_folded_key_outgrows_the_column_are_a_400(scim):
    """Folded keys (filters compare them) can be three times longer: "ﬃ" folds to "ffi"."""
    long_user_name = "ﬃ" * 200 + "@acme.example"  # 213 characters, folded 613
    assert_scim_error(scim.post("/Users", user_body(long_user_name)), 400, "invalidValue")
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ﬃ" * 150}
    assert_scim_error(scim.post("/Groups", group), 400, "invalidValue")
    assert scim.get("/Users").get_json(force=True)["totalResults"] == 0
