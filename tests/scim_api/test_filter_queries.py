"""SCIM filters translated to SQL, through the API: users and groups are created over
SCIM, and ``GET /Users?filter=`` and ``GET /Groups?filter=`` must return exactly the
right ids on SQLite and PostgreSQL; Okta's ``userName eq`` lookup is one index probe
on PostgreSQL. Parsing itself is tested in ``tests/scim/test_filter_parsing.py``.
"""

from __future__ import annotations

import time
import typing as t
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from flask_okta_scim.scim.attributes import USER_FILTERS
from flask_okta_scim.scim.filters import parse_filter
from flask_okta_scim.sqla.scim_query import user_condition
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import provisioning_org
from tests.conftest import user_body
from tests.scim.urns import CORE_GROUP
from tests.scim.urns import CORE_USER
from tests.scim.urns import E

# -- translation to SQL, through the API -----------------------------------------------------------

PEOPLE: dict[str, dict[str, t.Any]] = {
    "alice": user_body(
        "Alice.Smith@Example.com",
        externalId="00uALICE",
        name={"givenName": "Alice", "familyName": "Smith"},
        displayName="Alice Smith",
        title="Staff 100% Engineer",
        schemas=[CORE_USER, E],
        **{E: {"department": "Engineering", "manager": {"value": "MGR-1"}}},
    ),
    "bob": user_body(
        "bob@example.com",
        externalId="00uBob",
        name={"givenName": "Bob", "familyName": "Jones"},
        displayName="Bob Jones",
        title="Sales_Rep",
        active=False,
        **{E: {"department": "Sales"}},
    ),
    "carol": user_body(
        "carol@corp.test",
        externalId="00ucarol",
        name={"givenName": "Carolyn", "familyName": "Cole"},
        displayName="Carol C",
    ),
    "dave": user_body(
        "dave@example.com",
        externalId="00uDave",
        name={"givenName": "Dave", "familyName": "Tester"},
        displayName="Dave Tester",
        title="100 percent user",
        **{E: {"department": "engineering", "manager": {"value": "mgr-1"}}},
    ),
    "erin": {
        "schemas": [CORE_USER],
        "userName": "erin",
        "name": {"givenName": "Erin", "familyName": "Ng"},
        "emails": [{"value": "Erin.Work@Example.com", "type": "work", "primary": True}],
        "title": "",
        "active": "True",
    },
}
for _body in PEOPLE.values():
    _body.pop("password", None)  # hashing is slow and irrelevant here
EVERYONE = frozenset(PEOPLE)


def create_user(scim: t.Any, body: dict[str, t.Any]) -> str:
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(str, r.get_json(force=True)["id"])


def found(scim: t.Any, resource: str, filter_: str) -> set[str]:
    r = scim.get(f"/{resource}?filter={quote(filter_)}&startIndex=1&count=100")
    assert r.status_code == 200, (filter_, r.get_data(as_text=True))
    body = r.get_json(force=True)
    assert body["totalResults"] == len(body["Resources"])
    return {item["id"] for item in body["Resources"]}


@pytest.fixture
def people(scim: t.Any) -> dict[str, str]:
    """name -> SCIM id of the five users above."""
    return {name: create_user(scim, body) for name, body in PEOPLE.items()}


def names(ids: dict[str, str], got: set[str]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id.get(i, i) for i in got}


USER_CASES: list[tuple[str, set[str]]] = [
    # userName: case-insensitive, every operator
    ('userName eq "alice.smith@example.com"', {"alice"}),
    ('USERNAME EQ "ALICE.SMITH@EXAMPLE.COM"', {"alice"}),
    ('userName eq "Alice.Smith@Example.com"', {"alice"}),
    ('userName eq "ERIN"', {"erin"}),
    ('userName eq "nobody@example.com"', set()),
    ('userName eq "alice"', set()),
    ('userName ne "BOB@example.com"', EVERYONE - {"bob"}),
    ('userName co "EXAMPLE"', {"alice", "bob", "dave"}),
    ('userName sw "CAROL"', {"carol"}),
    ('userName ew ".TEST"', {"carol"}),
    ('userName gt "c"', {"carol", "dave", "erin"}),
    ('userName ge "CAROL@corp.test"', {"carol", "dave", "erin"}),
    ('userName lt "bob"', {"alice"}),
    ('userName le "BOB@EXAMPLE.COM"', {"alice", "bob"}),
    ("userName pr", EVERYONE),
    (f'{CORE_USER}:userName eq "dave@example.com"', {"dave"}),
    # externalId: case-exact
    ('externalId eq "00uBob"', {"bob"}),
    ('externalId eq "00ubob"', set()),
    ('externalId eq "00UBOB"', set()),
    ('externalId sw "00uB"', {"bob"}),
    ("externalId pr", EVERYONE - {"erin"}),
    ("externalId eq null", {"erin"}),
    ("externalId ne null", EVERYONE - {"erin"}),
    # emails: case-insensitive, Okta's and Entra's forms
    ('emails eq "ALICE.SMITH@example.com"', {"alice"}),
    ('emails.value eq "erin.work@EXAMPLE.com"', {"erin"}),
    ('emails[type eq "work"].value eq "BOB@example.com"', {"bob"}),
    ('emails[primary eq true].value eq "dave@example.com"', {"dave"}),
    ('emails co "CORP"', {"carol"}),
    ('emails ew "@example.com"', {"alice", "bob", "dave", "erin"}),
    # displayName: case-insensitive; missing is not present
    ('displayName eq "alice smith"', {"alice"}),
    ('displayName eq "ALICE SMITH"', {"alice"}),
    ('displayName co "TESTER"', {"dave"}),
    ("displayName pr", EVERYONE - {"erin"}),
    ("not (displayName pr)", {"erin"}),
    ('displayName ne "bob jones"', EVERYONE - {"bob"}),
    # JSON attributes
    ('name.givenName sw "car"', {"carol"}),
    ('name.givenName eq "CAROLYN"', {"carol"}),
    ('name.familyName eq "TESTER"', {"dave"}),
    ('name.familyName gt "n"', {"alice", "dave", "erin"}),
    ("nickName pr", set()),
    (f'{E}:department eq "engineering"', {"alice", "dave"}),
    (f'{E}:DEPARTMENT eq "ENGINEERING"', {"alice", "dave"}),
    (f'{E}:department eq "Sales"', {"bob"}),
    (f"{E}:department pr", {"alice", "bob", "dave"}),
    (f'not ({E}:department eq "Engineering")', {"bob", "carol", "erin"}),
    (f'{E}:department ne "sales"', {"alice", "carol", "dave", "erin"}),
    (f'{E}:manager.value eq "MGR-1"', {"alice"}),
    (f'{E}:manager.value eq "mgr-1"', {"dave"}),
    # co/sw/ew take % and _ literally
    ('title co "100%"', {"alice"}),
    ('title co "%"', {"alice"}),
    ('title co "s_r"', {"bob"}),
    ('title co "_"', {"bob"}),
    ('title sw "100"', {"dave"}),
    ('title sw "%"', set()),
    ('title ew "_rep"', {"bob"}),
    ('title ew "r_p"', set()),
    ("title pr", {"alice", "bob", "dave"}),
    ('not (title co "100")', {"bob", "carol", "erin"}),
    ('title ne "SALES_REP"', EVERYONE - {"bob"}),
    ("title eq null", {"carol", "erin"}),
    # active: booleans and Entra's string booleans
    ("active eq true", EVERYONE - {"bob"}),
    ("active eq false", {"bob"}),
    ('active eq "False"', {"bob"}),
    ("active ne true", {"bob"}),
    ("active pr", EVERYONE),
    # compound
    ('active eq true and userName sw "a"', {"alice"}),
    ('userName eq "bob@example.com" or userName eq "carol@corp.test"', {"bob", "carol"}),
    ('(userName sw "a" or userName sw "b") and active eq false', {"bob"}),
    ("not (active eq false or title pr)", {"carol", "erin"}),
    ('not (not (userName eq "erin"))', {"erin"}),
    (f'{E}:department pr and not ({E}:department eq "sales")', {"alice", "dave"}),
]


def test_user_filters_select_exactly_the_right_users(people, scim):
    wrong = {}
    for filter_, expected in USER_CASES:
        got = names(people, found(scim, "Users", filter_))
        if got != expected:
            wrong[filter_] = {"expected": sorted(expected), "got": sorted(got)}
    assert wrong == {}


def test_id_filters_are_case_exact(people, scim):
    alice = people["alice"]
    assert found(scim, "Users", f'id eq "{alice}"') == {alice}
    assert found(scim, "Users", f'id eq "{alice.upper()}"') == set()
    assert found(scim, "Users", f'id ne "{alice}"') == set(people.values()) - {alice}
    both = f'id eq "{alice}" or id eq "{people["bob"]}"'
    assert found(scim, "Users", both) == {alice, people["bob"]}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ('externalId sw "00uB"', {"bob"}),
        ('externalId sw "00ub"', set()),
        (f'{E}:manager.value co "MGR"', {"alice"}),
    ],
)
def test_case_exact_attributes_stay_case_exact_with_co_sw_ew(people, scim, filter_, expected):
    """externalId and manager.value are caseExact (RFC 7643 §4.1.1, §4.3).

    BUG (SQLite only): co/sw/ew become LIKE, which SQLite compares
    case-insensitively, so ``externalId sw "00ub"`` finds externalId ``00uBob``.
    """
    assert names(people, found(scim, "Users", filter_)) == expected


def test_meta_filters_compare_date_times(people, scim):
    time.sleep(0.01)
    cutoff = datetime.now(timezone.utc)
    time.sleep(0.01)
    r = scim.patch(
        f"/Users/{people['dave']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "changed"}],
        },
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    dave = people["dave"]
    everyone = set(people.values())
    z = cutoff.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    offset = cutoff.astimezone(timezone.utc).isoformat()  # ...+00:00
    paris = cutoff.astimezone(timezone(timedelta(hours=2))).isoformat()  # ...+02:00
    for stamp in (z, offset, paris):
        assert found(scim, "Users", f'meta.lastModified gt "{stamp}"') == {dave}, stamp
        assert found(scim, "Users", f'meta.lastModified ge "{stamp}"') == {dave}, stamp
        assert found(scim, "Users", f'meta.lastModified lt "{stamp}"') == everyone - {dave}
        assert found(scim, "Users", f'meta.created lt "{stamp}"') == everyone, stamp
        assert found(scim, "Users", f'meta.created gt "{stamp}"') == set(), stamp
    assert found(scim, "Users", "meta.lastModified pr") == everyone
    assert found(scim, "Users", 'meta.created gt "2000-01-01"') == everyone


def test_user_filters_the_server_cannot_apply_are_400_invalid_filter(people, scim):
    for filter_ in (
        'nosuch eq "x"',
        'meta.lastModified co "2020"',
        'meta.created sw "2020"',
        'meta.lastModified gt "yesterday"',
        'userName eq "x" and',
        "active co true",
        'emails[display eq "x"]',
        'members eq "x"',
    ):
        r = scim.get(f"/Users?filter={quote(filter_)}")
        assert_scim_error(r, 400, "invalidFilter")


def test_and_binds_tighter_than_or_in_queries(people, scim):
    """``a or b and c`` must be ``a or (b and c)`` (RFC 7644 §3.4.2.2).

    BUG (see test_and_binds_tighter_than_or): the query returns only bob.
    """
    filter_ = 'userName eq "carol@corp.test" or userName eq "bob@example.com" and active eq false'
    assert names(people, found(scim, "Users", filter_)) == {"carol", "bob"}


def test_emails_filter_matches_the_users_email_not_only_the_user_name(scim):
    """Okta may look users up by ``emails`` (reference §1.2); userName and email can differ.

    BUG: ``emails.value`` is translated to ``email_key``, the *account* email,
    which is the userName whenever that is an email address. A user created
    with userName ``jdoe@corp.test`` and primary work email
    ``john.doe@corp.test`` is not found by ``emails eq "john.doe@corp.test"``
    (nor by ``emails[type eq "work"].value eq ...``), and *is* found by
    ``emails eq "jdoe@corp.test"``, an address she does not have.
    """
    body = user_body(
        "jdoe@corp.test",
        emails=[{"value": "john.doe@corp.test", "type": "work", "primary": True}],
        externalId="00uJDOE",
    )
    body.pop("password")
    jdoe = create_user(scim, body)
    assert found(scim, "Users", 'emails eq "john.doe@corp.test"') == {jdoe}
    assert found(scim, "Users", 'emails[type eq "work"].value eq "john.doe@corp.test"') == {jdoe}
    assert found(scim, "Users", 'emails eq "jdoe@corp.test"') == set()


def test_deleted_users_are_never_found(people, scim):
    r = scim.delete(f"/Users/{people['carol']}")
    assert r.status_code == 204
    assert found(scim, "Users", 'userName eq "carol@corp.test"') == set()
    assert found(scim, "Users", "userName pr") == set(people.values()) - {people["carol"]}


def test_filters_never_cross_organizations(people, scim, app):
    _, token = provisioning_org(app, "Other")
    other = ScimClient(app, token)
    body = dict(PEOPLE["alice"])
    theirs = create_user(other, body)
    assert found(scim, "Users", 'userName eq "alice.smith@example.com"') == {people["alice"]}
    assert found(other, "Users", 'userName eq "alice.smith@example.com"') == {theirs}
    assert found(other, "Users", "userName pr") == {theirs}


# -- Groups ---------------------------------------------------------------------------------------


def create_group(scim: t.Any, name: str, members: list[str], external_id: str | None) -> str:
    body: dict[str, t.Any] = {
        "schemas": [CORE_GROUP],
        "displayName": name,
        "members": [{"value": m} for m in members],
    }
    if external_id:
        body["externalId"] = external_id
    r = scim.post("/Groups", body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(str, r.get_json(force=True)["id"])


def test_group_filters_select_exactly_the_right_groups(people, scim):
    groups = {
        "eng": create_group(scim, "Engineering Team", [people["alice"], people["dave"]], "ext-eng"),
        "sales": create_group(scim, "Sales", [people["bob"]], "EXT-sales"),
        "empty": create_group(scim, "Empty", [], None),
    }
    cases: list[tuple[str, set[str]]] = [
        ('displayName eq "Engineering Team"', {"eng"}),
        ('displayName eq "engineering team"', {"eng"}),
        ('DISPLAYNAME eq "SALES"', {"sales"}),
        (f'{CORE_GROUP}:displayName eq "empty"', {"empty"}),
        ('displayName co "TEAM"', {"eng"}),
        ('displayName sw "e"', {"eng", "empty"}),
        ('displayName ne "sales"', {"eng", "empty"}),
        ('displayName eq "Engineering"', set()),
        (f'members eq "{people["alice"]}"', {"eng"}),
        (f'members eq "{people["bob"]}"', {"sales"}),
        (f'members[value eq "{people["dave"]}"]', {"eng"}),
        (f'members.value eq "{people["dave"]}"', {"eng"}),
        (f'members eq "{people["carol"]}"', set()),
        (f'members eq "{people["alice"].upper()}"', set()),
        ("members pr", {"eng", "sales"}),
        ("not (members pr)", {"empty"}),
        (f'not (members eq "{people["alice"]}")', {"sales", "empty"}),
        (f'members eq "{people["bob"]}" and displayName eq "sales"', {"sales"}),
        (f'members eq "{people["bob"]}" or members eq "{people["dave"]}"', {"eng", "sales"}),
        ('externalId eq "EXT-sales"', {"sales"}),
        ('externalId eq "ext-sales"', set()),
        ("externalId pr", {"eng", "sales"}),
        (f'id eq "{groups["eng"]}"', {"eng"}),
        (f'id eq "{groups["eng"].upper()}"', set()),
    ]
    by_id = {v: k for k, v in groups.items()}
    wrong = {}
    for filter_, expected in cases:
        got = {by_id.get(i, i) for i in found(scim, "Groups", filter_)}
        if got != expected:
            wrong[filter_] = {"expected": sorted(expected), "got": sorted(got)}
    assert wrong == {}


def test_group_filters_the_server_cannot_apply_are_400_invalid_filter(scim):
    for filter_ in ('members co "x"', 'members sw "x"', 'userName eq "x"', "displayName eq"):
        r = scim.get(f"/Groups?filter={quote(filter_)}")
        assert_scim_error(r, 400, "invalidFilter")


def test_group_members_filter_ignores_deleted_users(people, scim):
    group = create_group(scim, "Team", [people["carol"]], None)
    assert found(scim, "Groups", f'members eq "{people["carol"]}"') == {group}
    assert scim.delete(f"/Users/{people['carol']}").status_code == 204
    assert found(scim, "Groups", f'members eq "{people["carol"]}"') == set()


# -- PostgreSQL plan of Okta's lookup --------------------------------------------------------------


@pytest.mark.postgresql_only
def test_user_name_eq_is_an_index_probe_on_postgresql(backend, app, scim_org):
    """Okta runs ``userName eq`` before every create: it must not scan the table."""
    if backend != "postgresql":
        pytest.skip("this test is about PostgreSQL plans")
    org_id = scim_org[0]
    with app.app_context():
        models = okta.models
        ident = models.identity
        rows = [
            {
                "id": str(uuid.uuid4()),
                "organization_id": org_id,
                "user_name": f"User{i}@Example.com",
                "user_name_key": f"user{i}@example.com",
                "email": f"User{i}@example.com",
                "email_key": f"user{i}@example.com",
                "attributes": {},
                "active": True,
            }
            for i in range(5000)
        ]
        db.session.execute(sa.insert(ident), rows)
        db.session.commit()
        db.session.execute(sa.text(f"ANALYZE {ident.__table__.name}"))
        db.session.commit()

        statement = sa.select(ident).where(
            ident.organization_id == org_id,
            ident.deleted_at.is_(None),
            user_condition(
                parse_filter('userName eq "User4242@EXAMPLE.com"', USER_FILTERS), models
            ),
        )
        sql = str(
            statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        )
        assert "user4242@example.com" in sql  # lower-cased before it reaches SQL
        plan = "\n".join(row[0] for row in db.session.execute(sa.text("EXPLAIN " + sql)))
        assert db.session.execute(statement).scalars().one().user_name == "User4242@Example.com"

    assert "Seq Scan" not in plan, plan
    assert "Index" in plan, plan
    assert "user_name_key" in plan, plan
