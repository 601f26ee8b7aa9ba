"""Hypothesis strategies shared by the fuzz tests: JSON values with hazardous strings,
SCIM filters, paging values, and wrong values for each attribute of a User.
"""

from __future__ import annotations

import string
import typing as t
from datetime import timedelta
from datetime import timezone

from hypothesis import strategies as st

from flask_okta_scim.scim.attributes import GROUP_FILTERS
from flask_okta_scim.scim.attributes import USER_FILTERS
from flask_okta_scim.scim.constants import ENTERPRISE_USER
from flask_okta_scim.scim.filters import OPERATORS
from tests.scim_api.fuzz.harness import _Marker

# -- strategies: JSON ------------------------------------------------------------------------------

#: Characters that have broken SCIM servers before: quotes, escapes, SQL LIKE
#: wildcards, NUL, other control characters, non-ASCII, astral plane, and lone
#: surrogates (JSON may escape them, ``"\ud800"``; UTF-8 cannot encode them).
NASTY = (
    "\"'\\%_*\x00\x01\n\t\r []().:,;=<>&?/#@é€ßİ\u0130\u212a\u00a0\u200b😀\ufeff\uffff\ud800\udfff"
)

nasty_text = st.text(
    alphabet=st.one_of(st.sampled_from(NASTY), st.characters(codec="utf-8")), max_size=24
)
plain_text = st.text(alphabet=string.ascii_letters + string.digits + " .-_@", max_size=24)
#: Whole values known to trip databases and drivers: NUL (PostgreSQL text cannot hold it),
#: lone surrogates, strings longer than the columns (512), LIKE wildcards, case folding.
HAZARDS = [
    "\x00",
    "a\x00b",
    "%",
    "_",
    "\\",
    "'",
    "İ",
    "ß",
    "\u212a",
    "😀",
    "\ufeff",
    "\ud800",
    "a\udfffb",
    "\n",
    "a" * 513,
    "x" * 5000,
    "ADA@EXAMPLE.COM",
]
hazard_text = st.one_of(
    st.sampled_from(HAZARDS),
    st.tuples(plain_text, st.sampled_from(HAZARDS), plain_text).map("".join),
    st.integers(300, 3000).map(lambda n: "y" * n),
)
any_text = st.one_of(plain_text, nasty_text, hazard_text)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
    any_text,
    st.sampled_from(["true", "False", "", " ", "null", "0", "work", "ada@example.com"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(any_text, st.sampled_from(["value", "type"])), children, max_size=4
        ),
    ),
    max_leaves=12,
)


def random_case(words: t.Sequence[str]) -> st.SearchStrategy[str]:
    """One of ``words`` as written, lower-cased, upper-cased, or in mixed case."""

    def mixed(word: str) -> st.SearchStrategy[str]:
        return st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in word]).map("".join)

    return st.sampled_from(list(words)).flatmap(
        lambda w: st.one_of(st.just(w), st.just(w.lower()), st.just(w.upper()), mixed(w))
    )


# -- strategies: filters ---------------------------------------------------------------------------

_USER_ATTRIBUTES = sorted({a.name for a in USER_FILTERS.values()} | set(USER_FILTERS))
_GROUP_ATTRIBUTES = sorted({a.name for a in GROUP_FILTERS.values()} | set(GROUP_FILTERS))
_UNKNOWN_ATTRIBUTES = [
    "foo",
    "name.middleName",
    "emails.type",
    "emails.primary",
    "emails.display",
    "phoneNumbers.value",
    "groups",
    "groups.value",
    "members.display",
    "password",
    "meta.version",
    "meta.resourceType",
    "meta",
    "name",
    "userName.foo",
    "urn:example:params:scim:schemas:extension:acme:2.0:User:badge",
    f"{ENTERPRISE_USER}:manager.displayName",
    f"{ENTERPRISE_USER}:manager",
    "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    "x$y",
    "a-b_c",
]
_EDGE_DATES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:30:00+05:00",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999Z",
    "2024-02-30T00:00:00Z",
    "2024-13-01",
    "2024-01-01T25:00:00Z",
    "2024-01-01T00:00:00+24:00",
    "now",
    "",
    "1700000000",
]


def _quoted(value: str) -> str:
    return f'"{value}"'


def _date_values() -> st.SearchStrategy[str]:
    offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
    dates = st.datetimes(timezones=st.one_of(st.none(), offsets)).map(
        lambda d: d.isoformat() + ("Z" if d.tzinfo is None else "")
    )
    return st.one_of(st.sampled_from(_EDGE_DATES), dates).map(_quoted)


def filter_values(ids: t.Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Comparison values as written in a filter: strings, booleans, null, numbers, dates."""
    return st.one_of(
        any_text.map(_quoted),
        st.sampled_from(["ada", "ADA@EXAMPLE.COM", "example", "@", "%", "_", "\\"]).map(_quoted),
        st.sampled_from(["true", "false", "null", "True", "NULL", "yes"]),
        st.integers(-(10**30), 10**30).map(str),
        st.sampled_from(["1.5", "-3", "1e5", "0x10", "00", "٣"]),
        _date_values(),
        st.sampled_from([*ids, "00000000-0000-0000-0000-000000000000"]).map(_quoted),
    )


#: Pieces of filters, for token soup.
FILTER_TOKENS = [
    *("userName", "emails", "members", "value", ".value", "urn:ietf:params:scim", ":"),
    *("eq", "pr", "and", "or", "not", "true", "null", "1"),
    *("(", ")", "[", "]", '"', '"x"'),
]


def filters(attributes: t.Sequence[str], ids: t.Sequence[str] = ()) -> st.SearchStrategy[str]:
    """SCIM filters from the grammar of RFC 7644 §3.4.2.2, with known and unknown attributes.

    Values are drawn by the attribute's type (dates for ``meta.created``, booleans for
    ``active``) as often as not, so that each type's translation is reached.
    """
    attribute = st.one_of(random_case(attributes), random_case(_UNKNOWN_ATTRIBUTES))
    operator = st.one_of(
        st.sampled_from(OPERATORS),
        random_case(OPERATORS),
        st.sampled_from(["eqq", "is", "==", "in"]),
    )
    values = filter_values(ids)
    known = {**USER_FILTERS, **GROUP_FILTERS}

    def of_type(kind: str) -> list[str]:
        return [a for a in attributes if a.lower() in known and known[a.lower()].type == kind]

    def typed(kind: str, typed_values: st.SearchStrategy[str]) -> list[st.SearchStrategy[str]]:
        names = of_type(kind)
        if not names:
            return []
        return [st.tuples(random_case(names), operator, typed_values).map(" ".join)]

    typed_comparison = st.one_of(
        *typed("string", st.one_of(hazard_text.map(_quoted), values)),
        *typed("dateTime", _date_values()),
        *typed("boolean", st.one_of(random_case(["true", "false"]), values)),
        st.tuples(attribute, operator, values).map(" ".join),
    )
    value_path_filter = st.one_of(
        st.sampled_from(
            [
                'type eq "work"',
                "primary eq true",
                'type eq "home"',
                'value co "@"',
                "primary eq false",
                'type eq "work" and primary eq true',
                "type pr",
            ]
        ),
        st.tuples(random_case(["type", "primary", "value", "display"]), operator, values).map(
            " ".join
        ),
    )
    comparison = st.one_of(
        typed_comparison,
        typed_comparison,
        st.tuples(attribute, operator, values).map(" ".join),
        st.tuples(attribute, random_case(["pr"])).map(" ".join),
        st.tuples(
            random_case(["emails", "members", "name", "phoneNumbers", "foo"]),
            value_path_filter,
            st.sampled_from(["", ".value", ".type", ".display", ".givenName"]),
            st.one_of(operator.flatmap(lambda op: values.map(lambda v: f" {op} {v}")), st.just("")),
        ).map(lambda p: f"{p[0]}[{p[1]}]{p[2]}{p[3]}"),
    )

    def combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, random_case(["and", "or"]), inner).map(" ".join),
            inner.map(lambda e: f"not ({e})"),
            inner.map(lambda e: f"({e})"),
            st.tuples(random_case(["emails", "members"]), inner).map(lambda p: f"{p[0]}[{p[1]}]"),
        )

    structured = st.recursive(comparison, combine, max_leaves=6)
    tokens = st.sampled_from(FILTER_TOKENS)
    return st.one_of(
        structured,
        structured,
        structured,
        typed_comparison,
        st.lists(tokens, max_size=12).map(" ".join),
        st.text(max_size=60),
        deep_filters(),
    )


def deep_filters() -> st.SearchStrategy[str]:
    """Filters near and past the 4096-character limit, and deeply nested ones."""
    return st.one_of(
        st.integers(1, 5000).map(lambda n: _quoted("a" * n)).map(lambda v: f"userName eq {v}"),
        st.integers(1, 2100).map(lambda n: "(" * n + "userName pr" + ")" * n),
        st.integers(1, 900).map(lambda n: "not (" * n + "userName pr" + ")" * n),
        st.integers(1, 400).map(lambda n: " and ".join(["active eq true"] * n)),
        st.integers(1, 400).map(lambda n: " or ".join(['userName sw "a"'] * n)),
    )


paging_values = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.integers().map(str),
    st.sampled_from(
        ["", " ", "1.5", "-0", "1e3", "abc", "9" * 20, "9" * 40, "-" + "9" * 40, "0x10", "٣", "1_0"]
    ),
    st.sampled_from([str(2**31), str(2**63 - 1), str(2**63), str(2**64), str(-(2**63))]),
    st.text(max_size=6),
)


# -- strategies: wrong attribute values -----------------------------------------------------------

_DELETE: t.Any = _Marker("DELETE")  # leave the attribute out
_EXISTING_NAME: t.Any = _Marker("EXISTING_NAME")  # another user's userName
_EXISTING_NAME_UPPER: t.Any = _Marker("EXISTING_NAME_UPPER")  # the same, upper-cased

_emails_wrong = st.one_of(
    st.just({"value": "x@example.com", "primary": True}),
    st.lists(any_text, max_size=3),
    st.lists(st.fixed_dictionaries({"value": json_scalars}), max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {"value": st.sampled_from(["a@example.com", "not-an-email", "", "@", "a@b"])},
            optional={
                "primary": st.one_of(st.booleans(), st.sampled_from(["true", "False", "x", 1])),
                "type": json_scalars,
            },
        ),
        max_size=3,
    ),
    st.just([]),
    st.none(),
    any_text,
)

#: For each attribute of a User body: values of the wrong type or shape.
WRONG_VALUES: dict[str, st.SearchStrategy[t.Any]] = {
    "userName": st.one_of(
        hazard_text,
        hazard_text.map(lambda s: f"{s}@example.com"),
        st.integers(),
        st.lists(any_text, max_size=2),
        st.none(),
        st.sampled_from(["", " ", "\t", "not-an-email", "a@b", "@example.com", "ADA@example.com"]),
        st.integers(500, 3000).map(lambda n: "a" * n + "@example.com"),
        any_text,
        st.booleans(),
        st.dictionaries(any_text, json_scalars, max_size=2),
        st.just(_EXISTING_NAME),
        st.just(_EXISTING_NAME_UPPER),
        any_text.map(lambda s: f"{s}@example.com"),
    ),
    "emails": _emails_wrong,
    "active": st.one_of(
        st.sampled_from(["False", "TRUE", "maybe", "", " true ", 1, 0, None, [], {}, 1.0]),
        json_values,
    ),
    "name": st.one_of(
        any_text,
        st.lists(any_text, max_size=2),
        st.none(),
        st.fixed_dictionaries({"givenName": json_scalars, "familyName": json_values}),
        st.just({}),
    ),
    "password": st.one_of(
        hazard_text,
        st.integers(),
        st.sampled_from(["", None, "x" * 1025, "x" * 1024]),
        json_values,
    ),
    ENTERPRISE_USER: st.one_of(
        st.lists(json_scalars, max_size=2),
        any_text,
        st.fixed_dictionaries(
            {},
            optional={
                "manager": st.one_of(json_scalars, st.fixed_dictionaries({"value": json_values})),
                "employeeNumber": json_scalars,
                "department": json_values,
            },
        ),
        st.none(),
    ),
    "displayName": st.one_of(hazard_text, json_scalars, json_values),
    "externalId": st.one_of(hazard_text, json_scalars, st.lists(any_text, max_size=2)),
    "schemas": st.one_of(json_values, st.just([ENTERPRISE_USER]), st.just([])),
    "groups": json_values,
    "id": json_values,
    "meta": json_values,
    "phoneNumbers": st.one_of(any_text, st.lists(json_values, max_size=3)),
    "addresses": st.one_of(
        any_text, st.lists(st.dictionaries(any_text, json_values, max_size=3), max_size=2)
    ),
    "locale": json_values,
    "title": json_values,
    "nickName": json_values,
    "roles": json_values,
}
