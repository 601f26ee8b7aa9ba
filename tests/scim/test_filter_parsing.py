"""SCIM filters, parsing (pure, no app): :func:`parse_filter` against the User and Group
attribute maps: operators, logical operators and grouping, attribute names (URNs,
case), value types, syntax errors and sizes; including the forms Okta (``userName
eq``, ``externalId eq``, ``displayName eq``) and Entra (``active eq "false"``) send.
"""

from __future__ import annotations

import time
import typing as t

import pytest

from flask_okta_scim.scim.attributes import GROUP_FILTERS
from flask_okta_scim.scim.attributes import USER_FILTERS
from flask_okta_scim.scim.errors import InvalidFilter
from flask_okta_scim.scim.filters import MAX_FILTER_LENGTH
from flask_okta_scim.scim.filters import And
from flask_okta_scim.scim.filters import Compare
from flask_okta_scim.scim.filters import Not
from flask_okta_scim.scim.filters import Or
from flask_okta_scim.scim.filters import ValuePath
from flask_okta_scim.scim.filters import parse_filter
from tests.scim.urns import CORE_GROUP
from tests.scim.urns import CORE_USER
from tests.scim.urns import E

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
    parent = USER_FILTERS[name.lower()].parent
    eq, pr = Compare(name, "eq", "v"), Compare(name, "pr", None)
    if parent is not None:  # emails.type: some address has it
        eq, pr = ValuePath(parent, eq), ValuePath(parent, pr)  # type: ignore[assignment]
    assert user(f'{name} eq "v"') == eq
    assert user(f"{name} pr") == pr


@pytest.mark.parametrize("name", sorted({a.name for a in GROUP_FILTERS.values()}))
def test_every_group_attribute_takes_eq_and_pr(name):
    assert parse_filter(f'{name} eq "v"', GROUP_FILTERS) == Compare(name, "eq", "v")
    assert parse_filter(f"{name} pr", GROUP_FILTERS) == Compare(name, "pr", None)


def test_pr_takes_no_value_and_keeps_none():
    assert user("active pr") == Compare("active", "pr", None)
    assert user("emails pr") == ValuePath("emails", Compare("emails.value", "pr", None))


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
        (f'{CORE_USER}:externalId eq "x"', "externalId"),
    ],
)
def test_urn_qualified_user_attributes(text, attribute):
    assert user(text) == Compare(attribute, "eq", "x")


def test_urn_qualified_multi_valued_sub_attribute():
    assert user(f'{CORE_USER}:emails.value eq "x"') == ValuePath(
        "emails", Compare("emails.value", "eq", "x")
    )


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


ANY_ADDRESS = ValuePath("emails", Compare("emails.value", "eq", "a@b.c"))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('emails eq "a@b.c"', ANY_ADDRESS),
        ('emails.value eq "a@b.c"', ANY_ADDRESS),
        ('emails[value eq "a@b.c"]', ANY_ADDRESS),
        (
            'emails[type eq "work"].value eq "a@b.c"',
            ValuePath(
                "emails",
                And(Compare("emails.type", "eq", "work"), Compare("emails.value", "eq", "a@b.c")),
            ),
        ),
        (
            'emails[PRIMARY EQ true].value eq "a@b.c"',
            ValuePath(
                "emails",
                And(Compare("emails.primary", "eq", True), Compare("emails.value", "eq", "a@b.c")),
            ),
        ),
        (
            'emails[primary eq "True"].value eq "a@b.c"',  # Entra's string booleans
            ValuePath(
                "emails",
                And(Compare("emails.primary", "eq", True), Compare("emails.value", "eq", "a@b.c")),
            ),
        ),
        (
            'emails[type eq "home" and value co "@b.c"]',
            ValuePath(
                "emails",
                And(Compare("emails.type", "eq", "home"), Compare("emails.value", "co", "@b.c")),
            ),
        ),
        (
            'emails[type eq "work" or primary eq true].value eq "a@b.c"',
            ValuePath(
                "emails",
                And(
                    Or(Compare("emails.type", "eq", "work"), Compare("emails.primary", "eq", True)),
                    Compare("emails.value", "eq", "a@b.c"),
                ),
            ),
        ),
        ('emails.type eq "work"', ValuePath("emails", Compare("emails.type", "eq", "work"))),
        (
            'not (emails[type eq "work"])',
            Not(ValuePath("emails", Compare("emails.type", "eq", "work"))),
        ),
        ('name[givenName eq "a@b.c"]', Compare("name.givenName", "eq", "a@b.c")),
    ],
)
def test_email_forms_okta_and_entra_send(text, tree):
    """Every selector of one address is about that address (RFC 7644 §3.4.2.2)."""
    assert user(text) == tree


@pytest.mark.parametrize(
    "text",
    [
        'phoneNumbers[type eq "work"].value eq "1"',
        'emails[type eq "work"].display eq "x"',
        'emails[display eq "x"]',
        'emails[value eq "x" and emails[type eq "work"]]',
    ],
)
def test_what_cannot_be_filtered_into_is_refused(text):
    refused(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('nosuch eq "x"', "nosuch"),
        ('password eq "x"', "password"),
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
            And(
                ValuePath(
                    "emails",
                    And(
                        Compare("emails.primary", "eq", True),
                        Compare("emails.value", "eq", "true"),
                    ),
                ),
                Compare("title", "eq", "null"),
            ),
        ),
        (
            'title eq null and emails[type eq "work"].value eq "w" and active ne true',
            And(
                And(
                    Compare("title", "eq", None),
                    ValuePath(
                        "emails",
                        And(
                            Compare("emails.type", "eq", "work"), Compare("emails.value", "eq", "w")
                        ),
                    ),
                ),
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


# -- the fast path for `attribute eq "value"` ------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from flask_okta_scim.scim import filters as filter_module  # noqa: E402

_NAMES = sorted({name for name in [*USER_FILTERS, *GROUP_FILTERS] if ":" not in name})
_VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\x00'),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(_NAMES),
    value=_VALUES,
    before=st.sampled_from(["", " ", "  "]),
    op=st.sampled_from(["eq", "EQ", "Eq"]),
    attributes=st.sampled_from([USER_FILTERS, GROUP_FILTERS]),
)
def test_the_fast_path_gives_the_parsers_node(name, value, before, op, attributes):
    """Whenever the shortcut answers, it answers what the lexer and parser would."""
    text = f'{before}{name} {op} "{value}"{before}'
    fast = filter_module._simple_equality(text, attributes)
    try:
        slow = filter_module._parsed(text, attributes)
    except InvalidFilter:
        slow = None
    if fast is not None:
        assert fast == slow
    known = attributes.get(name.lower())
    plain = "." not in name and known is not None and known.type == "string"
    if plain and isinstance(slow, Compare):
        assert fast == slow  # and it does answer for every plain string equality


def test_the_fast_path_leaves_everything_else_to_the_parser():
    for text in (
        'emails eq "a@b.c"',  # a multi-valued alias: a ValuePath
        'active eq "true"',  # a boolean from a string (Entra)
        'userName eq "a" and active eq true',
        'name.familyName eq "x"',
        f'{CORE_USER}:userName eq "x"',
        'userName ne "x"',
    ):
        assert filter_module._simple_equality(text, USER_FILTERS) is None, text
    assert parse_filter('userName eq "Ada@Example.com"', USER_FILTERS) == Compare(
        "userName", "eq", "Ada@Example.com"
    )
