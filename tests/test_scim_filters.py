"""SCIM filters: parsing (pure), PATCH value-path matching, and translation to SQL.

The first half needs no app: :func:`parse_filter` is checked against the User
and Group attribute maps, including the forms Okta (``userName eq``,
``externalId eq``, ``displayName eq``) and Entra (``active eq "false"``) send.
The second half creates users and groups over SCIM and checks that
``GET /Users?filter=`` and ``GET /Groups?filter=`` return exactly the right
ids on SQLite and PostgreSQL, and that Okta's ``userName eq`` lookup is one
index probe on PostgreSQL.
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

from flask_okta_scim.scim.attributes import GROUP_FILTERS
from flask_okta_scim.scim.attributes import USER_FILTERS
from flask_okta_scim.scim.errors import InvalidFilter
from flask_okta_scim.scim.filters import MAX_FILTER_LENGTH
from flask_okta_scim.scim.filters import And
from flask_okta_scim.scim.filters import AnyAttribute
from flask_okta_scim.scim.filters import Attribute
from flask_okta_scim.scim.filters import Compare
from flask_okta_scim.scim.filters import Not
from flask_okta_scim.scim.filters import Or
from flask_okta_scim.scim.filters import matches
from flask_okta_scim.scim.filters import parse_filter
from flask_okta_scim.sqla.scim_query import user_condition
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import provisioning_org
from tests.conftest import user_body

E = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
STRING_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")


def user(text: str) -> t.Any:
    return parse_filter(text, USER_FILTERS)


def refused(text: str, attributes: t.Any = USER_FILTERS) -> InvalidFilter:
    with pytest.raises(InvalidFilter) as info:
        parse_filter(text, attributes)
    error = info.value
    assert error.status == 400
    assert error.scim_type == "invalidFilter"
    assert error.to_dict()["scimType"] == "invalidFilter"
    return error


# -- operators ------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", STRING_OPS)
def test_every_comparison_operator_on_a_string_attribute(op):
    assert user(f'userName {op} "Bjensen@Example.com"') == Compare(
        "userName", op, "Bjensen@Example.com"
    )


@pytest.mark.parametrize("op", STRING_OPS)
def test_operators_are_case_insensitive(op):
    assert user(f'title {op.upper()} "x"') == Compare("title", op, "x")


@pytest.mark.parametrize("op", STRING_OPS)
def test_every_comparison_operator_on_a_date_time_attribute(op):
    assert user(f'meta.lastModified {op} "2011-05-13T04:42:34Z"') == Compare(
        "meta.lastModified", op, "2011-05-13T04:42:34Z"
    )


@pytest.mark.parametrize(
    "name", sorted({a.name for a in USER_FILTERS.values() if a.type != "boolean"})
)
def test_every_user_string_attribute_takes_eq_and_pr(name):
    assert user(f'{name} eq "v"') == Compare(name, "eq", "v")
    assert user(f"{name} pr") == Compare(name, "pr", None)


@pytest.mark.parametrize("name", sorted({a.name for a in GROUP_FILTERS.values()}))
def test_every_group_attribute_takes_eq_and_pr(name):
    assert parse_filter(f'{name} eq "v"', GROUP_FILTERS) == Compare(name, "eq", "v")
    assert parse_filter(f"{name} pr", GROUP_FILTERS) == Compare(name, "pr", None)


def test_pr_takes_no_value_and_keeps_none():
    assert user("active pr") == Compare("active", "pr", None)
    assert user("emails pr") == Compare("emails.value", "pr", None)


def test_unknown_operator_is_a_syntax_error():
    error = refused('userName zz "x"')
    assert "userName zz" in error.detail


# -- logical operators and grouping ----------------------------------------------------------------

A, B, C = (Compare("title", "eq", v) for v in "abc")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('title eq "a" and title eq "b"', And(A, B)),
        ('title eq "a" or title eq "b"', Or(A, B)),
        ('title eq "a" AND title eq "b"', And(A, B)),
        ('title eq "a" OR title eq "b"', Or(A, B)),
        ('not (title eq "a")', Not(A)),
        ('NOT (title eq "a")', Not(A)),
        ('not(title eq "a")', Not(A)),
        ('title eq "a" and title eq "b" or title eq "c"', Or(And(A, B), C)),
        ('(title eq "a" or title eq "b") and title eq "c"', And(Or(A, B), C)),
        ('title eq "a" and (title eq "b" or title eq "c")', And(A, Or(B, C))),
        ('not (title eq "a") and title eq "b"', And(Not(A), B)),
        ('title eq "a" and not (title eq "b" or title eq "c")', And(A, Not(Or(B, C)))),
        ('((title eq "a"))', A),
    ],
)
def test_logical_operators_and_grouping(text, tree):
    assert user(text) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('title eq "a" or title eq "b" and title eq "c"', Or(A, And(B, C))),
        ('not (title eq "a") or title eq "b" and title eq "c"', Or(Not(A), And(B, C))),
    ],
)
def test_and_binds_tighter_than_or(text, tree):
    """RFC 7644 §3.4.2.2: "and" takes precedence over "or".

    BUG: scim2-filter-parser declares ``("left", OR, AND)`` at one precedence
    level, so ``a or b and c`` parses as ``(a or b) and c``.
    """
    assert user(text) == tree


def test_not_needs_parentheses():
    refused('not title eq "a"')


# -- attribute names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ('USERNAME eq "x"', "userName"),
        ('username eq "x"', "userName"),
        ('EXTERNALID eq "x"', "externalId"),
        ('NAME.GIVENNAME eq "x"', "name.givenName"),
        ('Meta.LastModified gt "2020-01-01T00:00:00Z"', "meta.lastModified"),
        ("ACTIVE eq true", "active"),
    ],
)
def test_attribute_names_are_case_insensitive(text, attribute):
    assert user(text).attribute == attribute


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        (f'{E}:department eq "x"', f"{E}:department"),
        (f'{E}:DEPARTMENT eq "x"', f"{E}:department"),
        (f'{E.upper()}:department eq "x"', f"{E}:department"),
        (f'{E}:employeeNumber eq "x"', f"{E}:employeeNumber"),
        (f'{E}:costCenter eq "x"', f"{E}:costCenter"),
        (f'{E}:organization eq "x"', f"{E}:organization"),
        (f'{E}:division eq "x"', f"{E}:division"),
        (f'{E}:manager.value eq "x"', f"{E}:manager.value"),
        (f'{CORE_USER}:userName eq "x"', "userName"),
        (f'{CORE_USER.upper()}:USERNAME eq "x"', "userName"),
        (f'{CORE_USER}:emails.value eq "x"', "emails.value"),
        (f'{CORE_USER}:externalId eq "x"', "externalId"),
    ],
)
def test_urn_qualified_user_attributes(text, attribute):
    assert user(text) == Compare(attribute, "eq", "x")


def test_core_urn_alias_for_group_display_name():
    assert parse_filter(f'{CORE_GROUP}:displayName eq "x"', GROUP_FILTERS) == Compare(
        "displayName", "eq", "x"
    )


@pytest.mark.parametrize(
    ("attributes", "text", "attribute"),
    [
        (USER_FILTERS, f'{CORE_USER}:displayName eq "x"', "displayName"),
        (GROUP_FILTERS, f'{CORE_GROUP}:externalId eq "x"', "externalId"),
    ],
)
def test_core_urn_prefix_accepted_on_every_filterable_attribute(attributes, text, attribute):
    """RFC 7644 §3.10: the fully qualified name is the attribute's name; clients MAY omit it.

    BUG: only userName, emails.value and externalId (User) and displayName
    (Group) have core-URN aliases; every other filterable attribute written
    with its core URN is refused with 400 invalidFilter.
    """
    assert parse_filter(text, attributes) == Compare(attribute, "eq", "x")


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ('emails eq "a@b.c"', "emails.value"),
        ('emails.value eq "a@b.c"', "emails.value"),
        ('emails[value eq "a@b.c"]', "emails.value"),
        ('emails[type eq "work"].value eq "a@b.c"', "emails.value"),
        ('emails[type eq "WORK"].value eq "a@b.c"', "emails.value"),
        ('emails[primary eq true].value eq "a@b.c"', "emails.value"),
        ('emails[PRIMARY EQ true].value eq "a@b.c"', "emails.value"),
        ('name[givenName eq "a@b.c"]', "name.givenName"),
    ],
)
def test_email_forms_okta_and_entra_send(text, attribute):
    assert user(text) == Compare(attribute, "eq", "a@b.c")


@pytest.mark.parametrize(
    "text",
    [
        'emails[type eq "home"].value eq "a@b.c"',
        'emails[type ne "work"].value eq "a@b.c"',
        'emails[type co "work"].value eq "a@b.c"',
        'emails[primary eq false].value eq "a@b.c"',
        'emails[primary eq "true"].value eq "a@b.c"',
        'emails[type eq "work" and primary eq true].value eq "a@b.c"',
        'emails[type eq "work" or primary eq true].value eq "a@b.c"',
        'phoneNumbers[type eq "work"].value eq "1"',
    ],
)
def test_other_email_selectors_are_refused(text):
    error = refused(text)
    assert '[type eq "work"]' in error.detail


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('nosuch eq "x"', "nosuch"),
        ('password eq "x"', "password"),
        ('emails.type eq "work"', "emails.type"),
        ('emails[type eq "work"]', "emails.type"),
        ('emails[type eq "work"].display eq "x"', "emails.display"),
        ('name.middleName eq "x"', "name.middleName"),
        ('groups eq "x"', "groups"),
        (f'{E}:manager.displayName eq "x"', f"{E}:manager.displayName"),
        ('urn:example:ext:1.0:User:x eq "y"', "urn:example:ext:1.0:User:x"),
    ],
)
def test_unknown_user_attribute_is_refused_by_name(text, name):
    error = refused(text)
    assert repr(name) in error.detail


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('userName eq "x"', "userName"),
        ("active eq true", "active"),
        ('members.display eq "x"', "members.display"),
    ],
)
def test_unknown_group_attribute_is_refused_by_name(text, name):
    error = refused(text, GROUP_FILTERS)
    assert repr(name) in error.detail


def test_group_members_aliases():
    expected = Compare("members.value", "eq", "u1")
    for text in (
        'members eq "u1"',
        'MEMBERS eq "u1"',
        'members.value eq "u1"',
        'members[value eq "u1"]',
    ):
        assert parse_filter(text, GROUP_FILTERS) == expected


def test_unknown_attribute_inside_a_compound_filter_is_refused():
    error = refused('userName eq "x" and (title eq "y" or shoeSize eq "z")')
    assert "'shoeSize'" in error.detail


# -- value types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("active eq true", True),
        ("active eq false", False),
        ('active eq "true"', True),
        ('active eq "false"', False),
        ('active eq "False"', False),
        ('active eq "TRUE"', True),
    ],
)
def test_boolean_values_and_entra_string_booleans(text, value):
    node = user(text)
    assert node == Compare("active", "eq", value)
    assert type(node.value) is bool


def test_boolean_ne():
    assert user("active ne true") == Compare("active", "ne", True)


@pytest.mark.parametrize(
    "text",
    [
        "active co true",
        "active sw true",
        "active gt false",
        "active le true",
        'active eq "yes"',
        'active eq ""',
        "active eq 1",
        "active eq null",
    ],
)
def test_booleans_take_only_eq_or_ne_with_a_boolean(text):
    error = refused(text)
    assert "active" in error.detail


@pytest.mark.parametrize(
    "text",
    ["userName eq true", "userName eq false", "title eq 1", "meta.created gt true"],
)
def test_strings_refuse_non_string_values(text):
    error = refused(text)
    assert "must be compared with a string" in error.detail


def test_string_that_looks_like_a_literal_stays_a_string():
    assert user('userName eq "true"') == Compare("userName", "eq", "true")
    assert user('userName eq "null"') == Compare("userName", "eq", "null")
    assert user('userName eq ""') == Compare("userName", "eq", "")


def test_string_values_are_kept_exactly():
    assert (
        user('userName eq "Ünïcode.User+tag@Example.COM"').value == "Ünïcode.User+tag@Example.COM"
    )
    assert user('title co "100%_x"').value == "100%_x"
    assert user('displayName eq "a  b"').value == "a  b"


@pytest.mark.parametrize("op", ["eq", "ne"])
def test_null_with_eq_and_ne(op):
    assert user(f"title {op} null") == Compare("title", op, None)
    assert user(f"meta.lastModified {op} null") == Compare("meta.lastModified", op, None)


@pytest.mark.parametrize("op", ["co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_null_with_other_operators_is_refused(op):
    error = refused(f"title {op} null")
    assert "null" in error.detail


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            'userName eq "true" and active eq false',
            And(Compare("userName", "eq", "true"), Compare("active", "eq", False)),
        ),
        (
            'active eq false and userName eq "true"',
            And(Compare("active", "eq", False), Compare("userName", "eq", "true")),
        ),
        (
            'active eq "false" or userName eq "false"',
            Or(Compare("active", "eq", False), Compare("userName", "eq", "false")),
        ),
        (
            'userName pr and title eq "x" and active eq true',
            And(
                And(Compare("userName", "pr"), Compare("title", "eq", "x")),
                Compare("active", "eq", True),
            ),
        ),
        (
            'emails[primary eq true].value eq "true" and title eq "null"',
            And(Compare("emails.value", "eq", "true"), Compare("title", "eq", "null")),
        ),
        (
            'title eq null and emails[type eq "work"].value eq "w" and active ne true',
            And(
                And(Compare("title", "eq", None), Compare("emails.value", "eq", "w")),
                Compare("active", "ne", True),
            ),
        ),
        (
            'not (title eq "a") and (nickName eq "b" or locale eq "c")',
            And(
                Not(Compare("title", "eq", "a")),
                Or(Compare("nickName", "eq", "b"), Compare("locale", "eq", "c")),
            ),
        ),
    ],
)
def test_values_line_up_with_their_comparisons(text, tree):
    assert user(text) == tree


# -- syntax errors, sizes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "userName",
        "userName eq",
        'userName eq "x" and',
        'and userName eq "x"',
        '(userName eq "x"',
        'userName eq "x")',
        'userName eq "unterminated',
        "userName eq x",
        'userName = "x"',
        'emails[type eq "work".value eq "x"',
        'userName eq "x" userName eq "y"',
        "userName eq 12",
    ],
)
def test_syntax_errors(text):
    error = refused(text)
    assert "not valid SCIM filter syntax" in error.detail


@pytest.mark.parametrize("text", ["", " ", "\t\n", None, 42])
def test_empty_or_non_string_filter(text):
    error = refused(text)
    assert "empty" in error.detail


def test_filter_length_limit():
    prefix, suffix = 'userName eq "', '"'
    fits = prefix + "a" * (MAX_FILTER_LENGTH - len(prefix) - len(suffix)) + suffix
    assert len(fits) == MAX_FILTER_LENGTH
    assert user(fits).attribute == "userName"
    error = refused(fits[:-1] + "a" + suffix)
    assert str(MAX_FILTER_LENGTH) in error.detail


def test_huge_filter_is_refused_cheaply():
    started = time.perf_counter()
    refused(" or ".join(['title eq "x"'] * 100_000))
    assert time.perf_counter() - started < 1


# -- AnyAttribute and matches() (PATCH value paths) ------------------------------------------------


def test_any_attribute_accepts_every_name_with_any_type():
    attributes = AnyAttribute()
    assert attributes["Whatever"] == Attribute("Whatever", type="any")
    assert "anything" in attributes
    assert len(attributes) == 0
    assert list(attributes) == []
    assert parse_filter("foo co 1 and bar gt null", attributes) == And(
        Compare("foo", "co", 1), Compare("bar", "gt", None)
    )
    assert parse_filter('type eq "work" and primary eq true', attributes) == And(
        Compare("type", "eq", "work"), Compare("primary", "eq", True)
    )


WORK = {"value": "Bjensen@Example.com", "type": "work", "primary": True, "display": ""}
HOME = {"value": "babs@jensen.org", "type": "home"}


def any_filter(text: str) -> t.Any:
    return parse_filter(text, AnyAttribute())


@pytest.mark.parametrize(
    ("text", "work", "home"),
    [
        ('type eq "work"', True, False),
        ('type eq "WORK"', True, False),
        ('TYPE eq "work"', True, False),
        ('type ne "work"', False, True),
        ('value co "JENSEN"', True, True),
        ('value sw "bjensen@"', True, False),
        ('value ew ".org"', False, True),
        ('value gt "bj"', True, False),
        ('value ge "bjensen@example.com"', True, False),
        ('value lt "bjensen"', False, True),
        ('value le "babs@jensen.org"', False, True),
        ("primary eq true", True, False),
        ("primary ne true", False, True),
        ("primary eq false", False, False),
        ("primary pr", True, False),
        ("display pr", False, False),
        ("type pr", True, True),
        ("primary eq null", False, True),
        ('type eq "work" and primary eq true', True, False),
        ('type eq "home" or primary eq true', True, True),
        ('not (type eq "work")', False, True),
        ('type eq "home" and not (value co "example")', False, True),
        ('nosuch eq "x"', False, False),
        ("value eq 1", False, False),
    ],
)
def test_matches_one_element_of_a_multi_valued_attribute(text, work, home):
    node = any_filter(text)
    assert matches(node, WORK) is work
    assert matches(node, HOME) is home


def test_matches_reads_keys_case_insensitively_and_uses_the_last_name_part():
    item = {"Type": "Work", "Value": "x"}
    assert matches(any_filter('type eq "work"'), item)
    assert matches(Compare("emails.type", "eq", "work"), item)
    assert matches(Compare("members.value", "eq", "X"), item)
    assert not matches(Compare("emails.type", "eq", "home"), item)


def test_matches_member_value_paths_okta_sends():
    node = any_filter('value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"')
    assert matches(node, {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "x"})
    assert not matches(node, {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173"})
    assert not matches(node, {"display": "89bb1940-b905-4575-9e7f-6f887cfb368e"})


def test_matches_does_not_confuse_booleans_and_strings():
    assert not matches(Compare("primary", "eq", True), {"primary": "yes"})
    assert not matches(Compare("primary", "co", True), {"primary": True})
    assert not matches(Compare("type", "eq", "true"), {"type": True})


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
        'emails[type eq "home"].value eq "x"',
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
