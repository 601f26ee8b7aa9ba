"""Bugs found by the fuzzing: minimized reproductions, one per bug (``test_bug_*``).

Each fails until its bug is fixed. The property tests of :mod:`tests.scim_api.fuzz`
fail on the same inputs.
"""

from __future__ import annotations

import typing as t

import pytest

from flask_okta_scim.scim.constants import GROUP
from tests.conftest import ScimClient
from tests.conftest import user_body
from tests.scim_api.fuzz.harness import _MISSING
from tests.scim_api.fuzz.harness import _nested
from tests.scim_api.fuzz.harness import _user_with_title
from tests.scim_api.fuzz.harness import call
from tests.scim_api.fuzz.harness import check
from tests.scim_api.fuzz.harness import large_examples_allowed

pytestmark = large_examples_allowed


@pytest.mark.parametrize(
    "filter_text",
    [
        # SQLite: "parser stack overflow" (each "not" becomes two nested coalesce() calls)
        pytest.param("not (" * 30 + "userName pr" + ")" * 30, id="not-x30"),
        # both databases: RecursionError while converting or compiling the filter
        pytest.param("not (" * 100 + "userName pr" + ")" * 100, id="not-x100"),
        pytest.param("(" * 1000 + "userName pr" + ")" * 1000, id="parentheses-x1000"),
    ],
)
def test_bug_deeply_nested_filter_is_a_500(scim: ScimClient, filter_text: str) -> None:
    """A filter under the 4096-character limit but nested deep: 500 instead of 400."""
    response, request = call(scim, "GET", "/Users", query={"filter": filter_text})
    check(response, request)


@pytest.mark.parametrize(
    "filter_text",
    [
        'meta.created gt "0001-01-01T00:00:00+01:00"',
        'meta.lastModified lt "9999-12-31T23:59:59-01:00"',
    ],
)
def test_bug_datetime_filter_out_of_range_is_a_500(scim: ScimClient, filter_text: str) -> None:
    """A valid RFC 3339 date-time whose UTC conversion leaves datetime's range:
    OverflowError in ``astimezone`` (scim_query._datetime), 500 instead of 400 invalidFilter."""
    response, request = call(scim, "GET", "/Users", query={"filter": filter_text})
    check(response, request)


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_bug_huge_start_index_is_a_500(scim: ScimClient, kind: str) -> None:
    """startIndex past 2**63: SQLite "Python int too large to convert to SQLite INTEGER",
    PostgreSQL "bigint out of range" in OFFSET; 500 instead of an empty page (or a 400)."""
    response, request = call(scim, "GET", f"/{kind}", query={"startIndex": str(2**64)})
    check(response, request)


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", "/Users", {"filter": 'userName eq "\x00"'}, None),
        ("GET", "/Groups", {"filter": 'displayName eq "\x00"'}, None),
        ("GET", "/Users/%00", None, None),
        ("POST", "/Users", None, user_body("nul@example.com", displayName="a\x00b")),
        ("POST", "/Groups", None, {"schemas": [GROUP], "displayName": "a\x00b"}),
    ],
    ids=["user-filter", "group-filter", "user-id", "user-displayName", "group-displayName"],
)
def test_bug_nul_character_is_a_500_on_postgresql(
    scim: ScimClient, method: str, path: str, query: t.Any, body: t.Any
) -> None:
    """A NUL character (valid JSON ``\\u0000``, valid in a URL as ``%00``) reaching a
    PostgreSQL text parameter: psycopg's DataError "PostgreSQL text fields cannot contain
    NUL (0x00) bytes", 500 instead of 400 (or 404 for the id). SQLite is fine."""
    json_body = _MISSING if body is None else body
    response, request = call(scim, method, path, query=query, json_body=json_body)
    check(response, request)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/Users", user_body("long.external@example.com", externalId="e" * 513)),
        ("/Users", user_body("long.display@example.com", displayName="d" * 513)),
        ("/Groups", {"schemas": [GROUP], "displayName": "Long", "externalId": "e" * 513}),
    ],
    ids=["user-externalId", "user-displayName", "group-externalId"],
)
def test_bug_string_longer_than_its_column_is_a_500_on_postgresql(
    scim: ScimClient, path: str, body: t.Any
) -> None:
    """externalId / displayName longer than their VARCHAR(512) columns: PostgreSQL's
    StringDataRightTruncation, 500 instead of 400 invalidValue. SQLite ignores lengths."""
    response, request = call(scim, "POST", path, json_body=body)
    check(response, request)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e400"])
def test_bug_non_json_numbers_in_a_body(scim: ScimClient, number: str) -> None:
    """Python's JSON parser accepts NaN, Infinity and 1e400 (read as inf), which JSON does not:
    PostgreSQL refuses to store them (500); SQLite stores them and every later answer with
    that user holds ``NaN``/``Infinity`` - not JSON, for Okta too. Should be 400."""
    response, request = call(scim, "POST", "/Users", data=_user_with_title(number))
    check(response, request)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="array-x100000"),
        pytest.param(
            lambda: _user_with_title(_nested(600, "[", "]")), id="user-with-attribute-x600"
        ),
    ],
)
def test_bug_deeply_nested_json_is_a_500(scim: ScimClient, raw: t.Any) -> None:
    """Nested JSON: the parser's RecursionError is not a ValueError, so ``get_json(silent=True)``
    lets it through (500); a body that parses but nests 600 deep fails later, in the
    recursive ``resources.prune`` (500). Should be 400 (or 413)."""
    data = raw() if callable(raw) else raw
    response, request = call(scim, "POST", "/Users", data=data)
    check(response, request)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/Users", user_body("surrogate.password@example.com", password="\ud800")),
        ("/Users", user_body("surrogate.display@example.com", displayName="\ud800")),
        ("/Groups", {"schemas": [GROUP], "displayName": "\ud800"}),
    ],
    ids=["user-password", "user-displayName", "group-displayName"],
)
def test_bug_lone_surrogate_in_a_string_is_a_500(scim: ScimClient, path: str, body: t.Any) -> None:
    """A lone surrogate, valid JSON as the escape ``"\\ud800"``, cannot be encoded as UTF-8:
    UnicodeEncodeError in the password hash and in the database drivers (both databases),
    500 instead of 400. (It is stored fine inside the JSON attributes, e.g. ``title``.)"""
    response, request = call(scim, "POST", path, json_body=body)
    check(response, request)
