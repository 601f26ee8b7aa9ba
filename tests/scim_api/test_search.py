"""``POST .search`` (RFC 7644 §3.4.3) over HTTP, on SQLite and PostgreSQL.

``/Users/.search`` and ``/Groups/.search`` answer exactly what ``GET`` answers for the
same parameters; ``/.search`` lists Users then Groups as one list, paged across both
with a cost that does not grow with the page's depth, a filter applying to each type
on its own. Bad bodies are 400s, never 5xx; authentication, isolation and methods are
those of every other SCIM endpoint; a search is a read and is never audited.
"""

from __future__ import annotations

import typing as t
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import provisioning_org
from tests.conftest import user_body
from tests.scim.urns import CORE_GROUP
from tests.scim.urns import CORE_USER

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def search(scim: ScimClient, path: str = "/.search", **fields: t.Any) -> dict[str, t.Any]:
    """A SearchRequest with ``fields``, which must succeed: the ListResponse."""
    r = scim.post(path, {"schemas": [SEARCH], **fields})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/scim+json"
    return t.cast(dict[str, t.Any], r.get_json(force=True))


def ids(page: dict[str, t.Any]) -> list[str]:
    return [r["id"] for r in page["Resources"]]


@pytest.fixture
def data(scim: ScimClient) -> dict[str, list[str]]:
    """Five users (one inactive) and three groups; ids in creation order."""
    users = []
    for local, extra in [
        ("amy", {"title": "Engineer"}),
        ("ben", {"displayName": "Support"}),
        ("cat", {"active": False}),
        ("dan", {}),
        ("eve", {"title": "Engineer"}),
    ]:
        body = user_body(f"{local}@acme.example", **extra)
        body.pop("password")  # hashing is slow and irrelevant here
        r = scim.post("/Users", body)
        assert r.status_code == 201, r.get_data(as_text=True)
        users.append(r.get_json(force=True)["id"])
    groups = []
    for name, members in [("Engineering", users[:2]), ("Support", [users[1]]), ("Empty", [])]:
        body = {
            "schemas": [CORE_GROUP],
            "displayName": name,
            "members": [{"value": m} for m in members],
        }
        r = scim.post("/Groups", body)
        assert r.status_code == 201, r.get_data(as_text=True)
        groups.append(r.get_json(force=True)["id"])
    return {"users": users, "groups": groups}


# -- the same answer as GET -------------------------------------------------------------------

SAME_AS_GET: list[dict[str, t.Any]] = [
    {},
    {"startIndex": 2, "count": 2},
    {"count": 0},
    {"startIndex": 0, "count": -3},
    {"startIndex": 99},
    {"filter": 'title eq "engineer"'},
    {"filter": 'active eq false or displayName eq "support"', "count": 10},
    {"filter": 'members eq "nobody"'},
    {"filter": 'displayName eq "Support"'},
    {"filter": ""},
    {"attributes": ["userName", "displayName"]},
    {"attributes": ["groups"]},
    {"attributes": [f"{CORE_USER}:userName", "members.value"]},
    {"excludedAttributes": ["emails", "members", "meta"]},
    {"sortBy": "userName", "sortOrder": "descending"},  # ignored by both: no sorting
]


def query_string(fields: dict[str, t.Any]) -> str:
    args = {
        k: ",".join(v) if isinstance(v, list) else v
        for k, v in fields.items()
        if k not in ("sortBy", "sortOrder")
    }
    return urlencode(args)


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_typed_search_answers_what_get_answers(scim, data, kind):
    """The same status and body, refusals included (``title`` and ``members`` are one type's)."""
    statuses = set()
    for fields in SAME_AS_GET:
        searched = scim.post(f"/{kind}/.search", {"schemas": [SEARCH], **fields})
        got = scim.get(f"/{kind}?{query_string(fields)}")
        assert searched.status_code == got.status_code, fields
        assert searched.get_json(force=True) == got.get_json(force=True), fields
        statuses.add(got.status_code)
    assert statuses == {200, 400}
    page = search(scim, f"/{kind}/.search")
    assert ids(page) == data[kind.lower()] and page["totalResults"] == len(data[kind.lower()])


# -- the root: Users then Groups ----------------------------------------------------------------


def test_root_search_lists_users_then_groups(scim, data):
    page = search(scim)
    everything = data["users"] + data["groups"]
    assert ids(page) == everything
    assert page["totalResults"] == 8 and page["itemsPerPage"] == 8 and page["startIndex"] == 1
    types = [r["meta"]["resourceType"] for r in page["Resources"]]
    assert types == ["User"] * 5 + ["Group"] * 3
    # each resource is rendered as GET renders it (users without groups, groups with members)
    assert page["Resources"][0] == scim.get(f"/Users/{everything[0]}").get_json(force=True)
    assert page["Resources"][5] == scim.get(f"/Groups/{everything[5]}").get_json(force=True)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 8])
def test_root_paging_steps_across_users_and_groups(scim, data, count):
    everything = data["users"] + data["groups"]
    seen: list[str] = []
    start = 1
    while start <= len(everything):
        page = search(scim, startIndex=start, count=count)
        assert page["totalResults"] == 8 and page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"]) == min(count, 9 - start)
        seen += ids(page)
        start += count
    assert seen == everything


def test_root_paging_edges(scim, data):
    everything = data["users"] + data["groups"]
    only_counts = search(scim, count=0)
    assert only_counts["totalResults"] == 8 and only_counts["Resources"] == []
    assert ids(search(scim, startIndex=5, count=2)) == everything[4:6]  # the seam
    assert ids(search(scim, startIndex=6)) == data["groups"]
    past = search(scim, startIndex=9)
    assert past["totalResults"] == 8 and past["Resources"] == [] and past["itemsPerPage"] == 0
    huge = search(scim, startIndex=10**30, count=10**30)
    assert huge["totalResults"] == 8 and huge["Resources"] == []
    assert search(scim, startIndex=-4, count=-1)["startIndex"] == 1


@contextmanager
def counting_queries() -> t.Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def test_root_paging_cost_does_not_grow_with_the_users_passed(app, scim, data):
    """A page of groups behind many users costs what it costs behind a few."""

    def cost() -> int:
        with app.app_context(), counting_queries() as statements:
            page = search(scim, startIndex=len(data["users"]) + 1, count=2)
        assert ids(page) == data["groups"][:2]
        return len(statements)

    before = cost()
    for i in range(25):
        body = {"schemas": [CORE_USER], "userName": f"extra{i}@acme.example"}
        assert scim.post("/Users", body).status_code == 201
    data["users"] += [f"extra{i}" for i in range(25)]
    assert cost() == before


# -- a filter across types ----------------------------------------------------------------------

ROOT_FILTERS: list[tuple[str, list[str]]] = [
    # an attribute only users have: no group matches
    ('userName eq "amy@acme.example"', ["u0"]),
    ('title eq "Engineer"', ["u0", "u4"]),
    ("active eq false", ["u2"]),
    ('emails[type eq "work"].value eq "BEN@acme.example"', ["u1"]),  # a value path
    ('not (emails[type eq "work"])', ["g0", "g1", "g2"]),
    ('name[givenName eq "Amy"]', ["u0"]),
    # an attribute only groups have: no user matches
    ('members eq "{u1}"', ["g0", "g1"]),
    ("members pr", ["g0", "g1"]),
    # both have it: both are searched
    ('displayName eq "support"', ["u1", "g1"]),
    ('id eq "{u3}" or id eq "{g2}"', ["u3", "g2"]),
    # a comparison one type lacks is false for it, the rest still applies
    ('userName eq "dan@acme.example" or displayName eq "Engineering"', ["u3", "g0"]),
    ('title eq "Engineer" and displayName eq "Engineering"', []),
    # ... and its negation is true
    ('not (members eq "{u1}")', ["u0", "u1", "u2", "u3", "u4", "g2"]),
    ('not (userName sw "a") and displayName sw "e"', ["u4", "g0", "g2"]),
    # a schema URN names one type
    (f'{CORE_GROUP}:displayName eq "Support"', ["g1"]),
    (f'{CORE_USER}:displayName eq "Support"', ["u1"]),
]


def test_root_filter_applies_per_resource_type(scim, data):
    named = {f"u{i}": v for i, v in enumerate(data["users"])}
    named |= {f"g{i}": v for i, v in enumerate(data["groups"])}
    wrong = {}
    for expression, expected in ROOT_FILTERS:
        page = search(scim, filter=expression.format(**named))
        got = [k for v in ids(page) for k, w in named.items() if w == v]
        if got != expected or page["totalResults"] != len(expected):
            wrong[expression] = {"expected": expected, "got": got}
    assert wrong == {}


@pytest.mark.parametrize(
    "expression",
    [
        'nope eq "x"',  # no type has it
        'userName eq "x" or nope eq "y"',
        'userName eq "x" and members eq "y" and shoeSize gt "9"',
        'userName eq "x',  # syntax
        "userName zz 1",
        'active eq "maybe"',  # users have it, and the value does not fit
        "members eq true",  # groups have it, and the value does not fit
        "x" * 5000,
    ],
)
def test_root_filter_errors_are_invalid_filter(scim, data, expression):
    r = scim.post("/.search", {"schemas": [SEARCH], "filter": expression})
    assert_scim_error(r, 400, "invalidFilter")


# -- attributes and excludedAttributes ----------------------------------------------------------


def test_root_attributes_shape_users_and_groups(scim, data):
    page = search(scim, attributes=["userName"])
    users, groups = page["Resources"][:5], page["Resources"][5:]
    assert all(set(u) == {"schemas", "id", "active", "userName"} for u in users)
    assert all(set(g) == {"schemas", "id"} for g in groups)

    page = search(scim, attributes=["displayName", "groups"], count=2)
    first = page["Resources"][0]
    assert first["displayName"] == "Amy Tester"
    assert [g["value"] for g in first["groups"]] == [data["groups"][0]]

    page = search(scim, excludedAttributes=["members", "emails", "name"], startIndex=5)
    assert [r["id"] for r in page["Resources"]] == data["users"][4:] + data["groups"]
    assert all("members" not in r and "emails" not in r for r in page["Resources"])
    assert all("displayName" in r for r in page["Resources"])

    page = search(scim, attributes=[f"{CORE_GROUP}:members"], startIndex=6, count=1)
    assert page["Resources"] == [
        {
            "schemas": [CORE_GROUP],
            "id": data["groups"][0],
            "members": scim.get(f"/Groups/{data['groups'][0]}").get_json(force=True)["members"],
        }
    ]


# -- bad bodies ---------------------------------------------------------------------------------

BAD_BODIES: list[tuple[t.Any, str]] = [
    ("not json", "invalidSyntax"),
    ("[1, 2]", "invalidSyntax"),
    ('"text"', "invalidSyntax"),
    ('{"startIndex": 1e400, "schemas": ["' + SEARCH + '"]}', "invalidSyntax"),
    ({}, "invalidSyntax"),
    ({"count": 2}, "invalidSyntax"),
    ({"schemas": SEARCH}, "invalidSyntax"),
    ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}, "invalidSyntax"),
    ({"schemas": [SEARCH], "attributes": "userName"}, "invalidValue"),
    ({"schemas": [SEARCH], "attributes": [1]}, "invalidValue"),
    ({"schemas": [SEARCH], "attributes": [["userName"]]}, "invalidValue"),
    ({"schemas": [SEARCH], "excludedAttributes": {"members": True}}, "invalidValue"),
    ({"schemas": [SEARCH], "excludedAttributes": "members"}, "invalidValue"),
    ({"schemas": [SEARCH], "filter": 5}, "invalidValue"),
    ({"schemas": [SEARCH], "filter": ['userName eq "x"']}, "invalidValue"),
    ({"schemas": [SEARCH], "startIndex": "1"}, "invalidValue"),
    ({"schemas": [SEARCH], "startIndex": 1.5}, "invalidValue"),
    ({"schemas": [SEARCH], "startIndex": True}, "invalidValue"),
    ({"schemas": [SEARCH], "count": "10"}, "invalidValue"),
    ({"schemas": [SEARCH], "count": False}, "invalidValue"),
    ({"schemas": [SEARCH], "count": [10]}, "invalidValue"),
    ({"schemas": [SEARCH], "sortBy": 3}, "invalidValue"),
    ({"schemas": [SEARCH], "sortOrder": ["descending"]}, "invalidValue"),
    ({"schemas": [SEARCH], "filter": 'userName eq "a\u0000"'}, "invalidValue"),
    ({"schemas": [SEARCH], "filter": "userName eq"}, "invalidFilter"),
]


@pytest.mark.parametrize("path", ["/.search", "/Users/.search", "/Groups/.search"])
def test_bad_bodies_are_400(scim, path):
    wrong = {}
    for body, scim_type in BAD_BODIES:
        r = scim.post(path, body)
        got = r.get_json(force=True) if r.status_code == 400 else None
        if r.status_code != 400 or got.get("scimType") != scim_type:
            wrong[str(body)] = (r.status_code, r.get_data(as_text=True))
        else:
            assert_scim_error(r, 400, scim_type)
    assert wrong == {}


def test_a_body_is_read_case_insensitively_and_nulls_are_absent(scim, data):
    page = search(
        scim, STARTINDEX=2, Count=1, FILTER='userName sw "b"', attributes=None, sortBy=None
    )
    assert page["totalResults"] == 1 and page["Resources"] == []
    assert ids(search(scim, "/Users/.search", count=None, filter=None)) == data["users"]


def test_failed_searches_are_not_audited(app, scim, scim_org, data):
    def trail() -> list[t.Any]:
        with app.app_context():
            directory = okta.directory()
            return [
                (r.action, r.outcome)
                for r in directory.audit_log(directory.get_organization(scim_org[0]))
            ]

    before = trail()
    assert scim.post("/.search", {"schemas": [SEARCH], "filter": "nope"}).status_code == 400
    assert scim.post("/Users/.search", {"count": 1}).status_code == 400
    search(scim)
    assert trail() == before


# -- the HTTP rules of every SCIM endpoint ------------------------------------------------------


@pytest.mark.parametrize("path", ["/.search", "/Users/.search", "/Groups/.search"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(scim, app, path, method):
    r = scim.request(method, path)
    assert r.status_code == 405
    if method != "HEAD":
        assert_scim_error(r, 405)
    # before the token is even looked at
    assert ScimClient(app, None).request(method, path).status_code == 405


@pytest.mark.parametrize("path", ["/.search", "/Users/.search", "/Groups/.search"])
def test_unauthenticated_is_401(app, data, path):
    for token in (None, "not-a-token"):
        r = ScimClient(app, token).post(path, {"schemas": [SEARCH]})
        assert_scim_error(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Resources" not in r.get_data(as_text=True)


def test_another_organization_sees_nothing_of_this_one(app, scim, data):
    other = ScimClient(app, provisioning_org(app, "Globex")[1])
    body = user_body("zed@globex.example")
    body.pop("password")
    zed = other.post("/Users", body).get_json(force=True)["id"]
    acme_user, acme_group = data["users"][0], data["groups"][0]
    for path in ("/.search", "/Users/.search", "/Groups/.search"):
        assert ids(search(other, path)) == ([zed] if path != "/Groups/.search" else [])
        for expression in (
            f'id eq "{acme_user}" or id eq "{acme_group}"',
            'displayName eq "Engineering"',
            f'members eq "{acme_user}"',
        ):
            if path == "/Users/.search" and "members" in expression:
                continue
            page = search(other, path, filter=expression)
            assert page["totalResults"] == 0 and page["Resources"] == [], (path, expression)
        counted = search(other, path, count=0, startIndex=2)
        assert counted["totalResults"] == (1 if path != "/Groups/.search" else 0)
    # and this organization does not see the other's user
    assert zed not in ids(search(scim))


def test_searches_count_toward_the_rate_limit(app, scim_org):
    from sample_app import create_app

    limited = create_app({**app.config, "OKTA_SCIM_RATE_LIMIT": "2/minute"})
    client = ScimClient(limited, scim_org[1])
    statuses = [client.post("/.search", {"schemas": [SEARCH]}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    with limited.app_context():
        db.engine.dispose()


def test_oversized_search_bodies_are_413(app, scim_org):
    from sample_app import create_app

    small = create_app({**app.config, "OKTA_SCIM_MAX_BODY_BYTES": 2048})
    client = ScimClient(small, scim_org[1])
    body = {"schemas": [SEARCH], "filter": 'userName eq "' + "x" * 5000 + '"'}
    assert_scim_error(client.post("/.search", body), 413)
    with small.app_context():
        db.engine.dispose()


def test_search_is_under_a_custom_prefix_too(app, scim_org):
    from sample_app import create_app

    moved = create_app({**app.config, "OKTA_SCIM_URL_PREFIX": "/api/scim"})
    client = ScimClient(moved, scim_org[1], prefix="/api/scim")
    assert client.post("/.search", {"schemas": [SEARCH]}).status_code == 200
    assert client.get("/.search").status_code == 405
    with moved.app_context():
        db.engine.dispose()
