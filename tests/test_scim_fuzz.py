"""Property-based fuzzing of the SCIM API: generated filters, bodies and PATCH operations.

The invariants, for every request, on SQLite and PostgreSQL alike:

* no 5xx, whatever the client sends;
* every 4xx is an RFC 7644 §3.12 error body with the SCIM media type;
* every 2xx body is strict JSON of the expected shape (a User, a Group, a
  ListResponse);
* another organization's resources are never reached;
* after the fuzzing, the organization's data is still consistent (every listed
  resource can be fetched, group membership agrees from both sides).

Each test defines its ``@given`` function inside the test and runs it once, so
that the function-scoped fixtures (one database, one organization) are set up
once for all examples and the consistency check runs after the last one.
Reusing one database across examples is fine: every example creates what it
changes under a unique name.

Each bug this fuzzing found has a minimized reproduction at the end of the
module (``test_bug_*``); the property tests fail on the same inputs until it is
fixed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import string
import traceback
import typing as t
import uuid
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from datetime import timezone
from urllib.parse import quote as _quote
from urllib.parse import urlencode

import pytest
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from limits import parse as parse_rate

from flask_okta_scim.scim.attributes import GROUP_FILTERS
from flask_okta_scim.scim.attributes import USER_FILTERS
from flask_okta_scim.scim.constants import CONTENT_TYPE
from flask_okta_scim.scim.constants import ENTERPRISE_USER
from flask_okta_scim.scim.constants import GROUP
from flask_okta_scim.scim.constants import LIST_RESPONSE
from flask_okta_scim.scim.constants import PATCH_OP
from flask_okta_scim.scim.constants import USER
from flask_okta_scim.scim.filters import OPERATORS
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import provisioning_org
from tests.conftest import user_body

# -- settings -------------------------------------------------------------------------------------

#: A failing example may be large (a 300,000-deep body); its report must not turn into an
#: error about its size under the project's ``filterwarnings = ["error"]``.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)


ON_CI = os.environ.get("CI", "").lower() == "true"


def fuzz_settings(max_examples: int) -> settings:
    """Examples per test; no deadline (PostgreSQL round trips vary); no example database.

    On CI (``CI=true``) the examples are derandomized, so that a run fails only
    when the code changes; locally each run explores new examples.
    """
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=ON_CI,
        # On CI, no shrinking: a failing property reports its first failing example at
        # once (the test_bug_* reproductions are the minimized ones); locally, shrink.
        phases=[Phase.explicit, Phase.reuse, Phase.generate] if ON_CI else list(Phase),
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# -- the organization under fuzz -------------------------------------------------------------------


@dataclass
class World:
    """One organization with a few users and groups, and a second organization next to it."""

    app: Flask
    scim: ScimClient
    other: ScimClient
    user_ids: list[str] = field(default_factory=list)
    user_names: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    other_user_ids: list[str] = field(default_factory=list)
    other_group_ids: list[str] = field(default_factory=list)
    other_snapshot: dict[str, t.Any] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def unique(self, stem: str = "fuzz") -> str:
        """A userName no other example uses."""
        return f"{stem}{next(self.counter)}.{uuid.uuid4().hex[:8]}@example.com"

    def unique_group(self) -> str:
        return f"Fuzz group {next(self.counter)} {uuid.uuid4().hex[:8]}"


def quote(segment: str, safe: str = "") -> str:
    """A path segment, percent-encoded; lone surrogates as their (invalid) UTF-8 bytes."""
    return _quote(segment, safe=safe, errors="surrogatepass")


def _fast_hash(password: str) -> str:
    """A cheap stand-in for the scrypt hash (80 ms each), failing on the same inputs:
    like Werkzeug's, it encodes the password as strict UTF-8."""
    return "fuzz$" + hashlib.sha256(password.encode()).hexdigest()


def _created(response: t.Any) -> dict[str, t.Any]:
    assert response.status_code == 201, response.get_data(as_text=True)
    return t.cast(dict[str, t.Any], response.get_json(force=True))


class _LastServerError(logging.Filter):
    """Keeps the end of the last traceback the SCIM blueprint logged, for failure messages,
    and drops the record.

    Installed on the SCIM logger for every test of this module: a property test that
    fails sends thousands of failing requests while it shrinks, and pytest would print
    every one of their tracebacks (a RecursionError's is a thousand frames long).
    """

    summary = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            lines = traceback.format_exception(record.exc_info[1])
            self.summary = "".join(lines[-3:]).strip()
        return False


_server_errors = _LastServerError()


@pytest.fixture(autouse=True)
def _quiet_server_log() -> t.Iterator[None]:
    logger = logging.getLogger("flask_okta_scim.scim")
    logger.addFilter(_server_errors)
    try:
        yield
    finally:
        logger.removeFilter(_server_errors)


@pytest.fixture
def world(app: Flask, scim: ScimClient, monkeypatch: pytest.MonkeyPatch) -> World:
    """Acme with four users (one inactive, one with odd attribute types) and two groups;
    Other with two users and a group. The rate limit is lifted, as fuzzing sends many
    requests, and passwords get a cheap hash (the extension's ``hash_password`` hook).
    """
    monkeypatch.setattr(okta, "hash_password", _fast_hash)
    with app.app_context():
        okta.scim_rate_limiter.item = parse_rate("1000000/minute")
    _, other_token = provisioning_org(app, "Other")
    w = World(app=app, scim=scim, other=ScimClient(app, other_token))

    bodies = [
        user_body("ada@example.com"),
        user_body(
            "grace@example.com",
            title={"not": "a string"},
            nickName=5,
            locale=["en", "fr"],
            emails=[
                {"value": "grace@example.com", "type": "work", "primary": True},
                {"value": "grace.home@example.com", "type": "home"},
            ],
            **{
                ENTERPRISE_USER: {
                    "employeeNumber": "701984",
                    "department": "Tour Operations",
                    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
                }
            },
        ),
        user_body("linus@example.com", active=False),
        user_body("not-an-email", emails=[{"value": "margaret@example.com", "primary": True}]),
    ]
    for body in bodies:
        created = _created(scim.post("/Users", body))
        w.user_ids.append(created["id"])
        w.user_names.append(created["userName"])
    active = [w.user_ids[0], w.user_ids[1], w.user_ids[3]]
    for name, members in (("Engineering", active[:2]), ("Empty", [])):
        body = {
            "schemas": [GROUP],
            "displayName": name,
            "members": [{"value": i} for i in members],
        }
        w.group_ids.append(_created(scim.post("/Groups", body))["id"])

    for name in ("ada@example.com", "bob@other.example.com"):
        w.other_user_ids.append(_created(w.other.post("/Users", user_body(name)))["id"])
    body = {
        "schemas": [GROUP],
        "displayName": "Engineering",
        "members": [{"value": i} for i in w.other_user_ids],
    }
    w.other_group_ids.append(_created(w.other.post("/Groups", body))["id"])
    w.other_snapshot = _snapshot(w.other)
    return w


# -- sending and checking -------------------------------------------------------------------------


class _Marker:
    """A placeholder in generated data, resolved when the body is built."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_MISSING: t.Any = _Marker("MISSING")


def call(
    client: ScimClient,
    method: str,
    path: str,
    *,
    json_body: t.Any = _MISSING,
    data: bytes | str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[t.Any, str]:
    """Send one request as Okta would; return the response and a description of the request."""
    _server_errors.summary = ""
    if json_body is not _MISSING:
        data = json.dumps(json_body)  # ASCII: lone surrogates become "\udxxx" escapes
    # Lone surrogates in a query go out as their (invalid) UTF-8 bytes, percent-encoded.
    query_string = urlencode(query or {}, encoding="utf-8", errors="surrogatepass")
    all_headers = client.headers(headers, body=data is not None)
    for name, value in (headers or {}).items():
        if value is None:  # drop a default header (e.g. Content-Type)
            all_headers.pop(name, None)
    response = client.client.open(
        client.prefix + path,
        method=method,
        data=data,
        query_string=query_string,
        headers=all_headers,
    )
    shown = data if data is None or len(data) < 3000 else f"{data[:3000]!r}... ({len(data)})"
    return response, f"{method} {client.prefix}{path} query={query!r} body={shown!r}"


def _reject_constant(name: str) -> t.NoReturn:
    raise ValueError(f"it contains {name}, which JSON does not have")


def check(response: t.Any, request: str) -> t.Any:
    """The invariants of every answer; return the JSON body of a 2xx answer (or ``None``)."""
    status = response.status_code
    text = response.get_data(as_text=True)
    where = f"\n  request: {request}\n  answer: {status} {response.mimetype} {text[:3000]}"
    assert status < 500, f"server error{where}\n  server log: {_server_errors.summary}"
    assert response.mimetype == CONTENT_TYPE, f"not application/scim+json{where}"
    if status >= 400:
        try:
            assert_scim_error(response, status)
        except (AssertionError, KeyError, TypeError) as e:
            raise AssertionError(f"not a SCIM error body ({e!r}){where}") from e
        return None
    assert 200 <= status < 300 or status == 304, f"unexpected status{where}"
    if status in (204, 304):
        return None
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:
        raise AssertionError(f"the response body is not strict JSON: {e}{where}") from e
    assert isinstance(body, dict), f"the response body is not an object{where}"
    return body


def check_user(body: dict[str, t.Any]) -> None:
    assert USER in body["schemas"], body
    assert isinstance(body["id"], str) and body["id"], body
    assert isinstance(body["userName"], str) and body["userName"].strip(), body
    assert isinstance(body["active"], bool), body
    assert "password" not in {k.lower() for k in body}, body
    assert isinstance(body.get("groups", []), list), body
    assert body["meta"]["resourceType"] == "User", body
    assert body["meta"]["location"].endswith(f"/Users/{body['id']}"), body


def check_group(body: dict[str, t.Any], members: bool = True) -> None:
    assert body["schemas"] == [GROUP], body
    assert isinstance(body["id"], str) and body["id"], body
    assert isinstance(body["displayName"], str) and body["displayName"].strip(), body
    if members:
        assert isinstance(body["members"], list), body
        assert all(isinstance(m["value"], str) for m in body["members"]), body
    assert body["meta"]["resourceType"] == "Group", body
    assert body["meta"]["location"].endswith(f"/Groups/{body['id']}"), body


def check_list(body: dict[str, t.Any]) -> None:
    assert body["schemas"] == [LIST_RESPONSE], body
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(body[key]) is int, (key, body)
    assert body["totalResults"] >= 0, body
    assert body["startIndex"] >= 1, body
    assert body["itemsPerPage"] == len(body["Resources"]) <= 200, body
    for resource in body["Resources"]:
        assert isinstance(resource["id"], str) and resource["id"], resource


def check_write(client: ScimClient, response: t.Any, request: str, kind: str) -> t.Any:
    """A write's answer; a 2xx one must be the resource as a GET now returns it."""
    body = check(response, request)
    if body is None:
        return None
    if kind == "Users":
        check_user(body)
    else:
        check_group(body)
    fetched, again = call(client, "GET", f"/{kind}/{body['id']}")
    fetched_body = check(fetched, again)
    assert fetched.status_code == 200, again
    assert fetched_body == body, f"the write answered\n{body}\nbut a GET then gives\n{fetched_body}"
    return body


# -- consistency ---------------------------------------------------------------------------------


def _all(client: ScimClient, kind: str) -> list[dict[str, t.Any]]:
    found: list[dict[str, t.Any]] = []
    start = 1
    while True:
        response, request = call(
            client, "GET", f"/{kind}", query={"startIndex": str(start), "count": "200"}
        )
        body = check(response, request)
        assert response.status_code == 200, request
        check_list(body)
        found += body["Resources"]
        if not body["Resources"] or len(found) >= body["totalResults"]:
            assert len(found) == body["totalResults"], body
            return found
        start += len(body["Resources"])


def _snapshot(client: ScimClient) -> dict[str, t.Any]:
    users = {u["id"]: (u["userName"], u["active"]) for u in _all(client, "Users")}
    groups = {
        g["id"]: (g["displayName"], sorted(m["value"] for m in g["members"]))
        for g in _all(client, "Groups")
    }
    return {"users": users, "groups": groups}


def assert_consistent(w: World) -> None:
    """After fuzzing: every listed resource can be fetched as listed; userNames are unique
    and findable; group members are users of the organization, and a user's ``groups``
    agrees with the groups' members; the other organization is untouched."""
    users = _all(w.scim, "Users")
    ids = {u["id"] for u in users}
    assert len(ids) == len(users), "a user is listed twice"
    names = [u["userName"].lower() for u in users]
    assert len(names) == len(set(names)), "two users share a userName"
    groups = _all(w.scim, "Groups")
    members_of = {g["id"]: {m["value"] for m in g["members"]} for g in groups}
    for group in groups:
        check_group(group)
        response, request = call(w.scim, "GET", f"/Groups/{group['id']}")
        assert check(response, request) == group
        assert members_of[group["id"]] <= ids, ("a member is not a user of the org", group)
    for user in users:
        check_user(user)
        response, request = call(w.scim, "GET", f"/Users/{quote(user['id'], safe='')}")
        assert check(response, request) == user
        # ``groups`` (returned when asked for) agrees with the groups' member lists.
        response, request = call(
            w.scim, "GET", f"/Users/{user['id']}", query={"attributes": "groups"}
        )
        body = check(response, request)
        in_groups = {g["value"] for g in body.get("groups", [])}
        assert in_groups == {g for g, members in members_of.items() if user["id"] in members}, (
            user,
            body,
        )
        # userName eq finds the user (the lower-cased key column agrees with the userName).
        name = user["userName"]
        if '"' not in name:
            response, request = call(
                w.scim, "GET", "/Users", query={"filter": f'userName eq "{name}"'}
            )
            body = check(response, request)
            assert response.status_code == 200, request
            assert [r["id"] for r in body["Resources"]] == [user["id"]], (name, body)
    assert _snapshot(w.other) == w.other_snapshot, "the other organization changed"


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


# -- 1. filters and paging -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_filters_never_crash(world: World, kind: str) -> None:
    """``GET /Users?filter=`` and ``/Groups?filter=``: 200 ListResponse or a 400 SCIM error."""
    attributes = _USER_ATTRIBUTES if kind == "Users" else _GROUP_ATTRIBUTES
    ids = world.user_ids + world.other_user_ids + world.group_ids

    @fuzz_settings(150)
    @given(filter_text=filters(attributes, ids))
    def run(filter_text: str) -> None:
        response, request = call(world.scim, "GET", f"/{kind}", query={"filter": filter_text})
        body = check(response, request)
        assert response.status_code in (200, 400), request
        if body is not None:
            check_list(body)
            found = {r["id"] for r in body["Resources"]}
            assert not found & set(world.other_user_ids + world.other_group_ids), request

    run()
    assert_consistent(world)


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_paging_and_projection_never_crash(world: World, kind: str) -> None:
    """``startIndex``, ``count``, ``attributes`` and ``excludedAttributes`` of any form."""
    names = st.lists(
        st.one_of(
            random_case(["userName", "emails", "emails.value", "name.givenName", "members"]),
            random_case(["id", "schemas", "meta", "meta.location", "groups", "members.value"]),
            st.just(f"{ENTERPRISE_USER}:department"),
            st.just(f"{USER}:name.familyName"),
            any_text,
        ),
        max_size=4,
    ).map(",".join)

    @fuzz_settings(100)
    @given(
        start=st.one_of(st.none(), paging_values),
        count=st.one_of(st.none(), paging_values),
        attributes=st.one_of(st.none(), names),
        excluded=st.one_of(st.none(), names),
    )
    def run(
        start: str | None, count: str | None, attributes: str | None, excluded: str | None
    ) -> None:
        query = {
            k: v
            for k, v in {
                "startIndex": start,
                "count": count,
                "attributes": attributes,
                "excludedAttributes": excluded,
            }.items()
            if v is not None
        }
        response, request = call(world.scim, "GET", f"/{kind}", query=query)
        body = check(response, request)
        assert response.status_code in (200, 400), request
        if body is not None:
            check_list(body)

    run()
    assert_consistent(world)


# -- 2. POST and PUT bodies -----------------------------------------------------------------------

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

mutations = st.lists(
    st.one_of(
        st.sampled_from(sorted(WRONG_VALUES)).flatmap(
            lambda key: st.tuples(
                st.one_of(st.just(key), random_case([key])),
                st.one_of(WRONG_VALUES[key], st.just(_DELETE)),
            )
        ),
        st.tuples(any_text, json_values),  # an attribute nobody knows
    ),
    min_size=1,
    max_size=4,
)


def almost_valid_user(w: World, changes: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
    """A valid Okta User body with ``changes`` applied (keys matched case-insensitively)."""
    body = user_body(w.unique())
    for key, value in changes:
        for existing in [k for k in body if k.lower() == key.lower()]:
            del body[existing]
        if value is _DELETE:
            continue
        if value is _EXISTING_NAME:
            value = w.user_names[0]
        elif value is _EXISTING_NAME_UPPER:
            value = w.user_names[1].upper()
        body[key] = value
    return body


user_bodies = st.one_of(
    st.tuples(st.just("almost"), mutations),
    st.tuples(st.just("almost"), mutations),
    st.tuples(st.just("almost"), mutations),
    st.tuples(st.just("json"), json_values),
    st.tuples(
        st.just("json"),
        st.dictionaries(
            st.one_of(random_case(sorted(WRONG_VALUES)), any_text), json_values, max_size=6
        ),
    ),
)


def make_user_body(w: World, drawn: tuple[str, t.Any]) -> t.Any:
    kind, payload = drawn
    return almost_valid_user(w, payload) if kind == "almost" else payload


def test_post_users_never_crash(world: World) -> None:
    """``POST /Users`` with generated bodies: 201 User, or a 4xx SCIM error."""

    @fuzz_settings(150)
    @given(drawn=user_bodies)
    def run(drawn: tuple[str, t.Any]) -> None:
        body = make_user_body(world, drawn)
        response, request = call(world.scim, "POST", "/Users", json_body=body)
        created = check_write(world.scim, response, request, "Users")
        assert response.status_code in (201, 400, 409), request
        if created is not None:
            assert response.headers["Location"] == created["meta"]["location"]

    run()
    assert_consistent(world)


def test_put_users_never_crash(world: World) -> None:
    """``PUT /Users/{id}`` with generated bodies, on this organization's users, another
    organization's users and unknown ids: never a 2xx for a user that is not ours."""
    targets = st.one_of(
        st.sampled_from(["fresh", "fresh", "seeded", "other"]),
        st.one_of(any_text, st.just("00000000-0000-0000-0000-000000000000")),
    )

    @fuzz_settings(120)
    @given(target=targets, drawn=user_bodies, if_match=st.none() | st.sampled_from(["*", 'W/"1"']))
    def run(target: str, drawn: tuple[str, t.Any], if_match: str | None) -> None:
        foreign = target not in ("fresh", "seeded")
        if target == "fresh":
            scim_id = _created(world.scim.post("/Users", user_body(world.unique())))["id"]
        elif target == "seeded":
            scim_id = world.user_ids[1]
        elif target == "other":
            scim_id = world.other_user_ids[0]
        else:
            scim_id = target
        body = make_user_body(world, drawn)
        response, request = call(
            world.scim,
            "PUT",
            f"/Users/{quote(scim_id, safe='')}",
            json_body=body,
            headers={"If-Match": if_match} if if_match else None,
        )
        check_write(world.scim, response, request, "Users")
        assert response.status_code in (200, 400, 404, 409, 412), request
        if foreign:
            # Another organization's id is never reached: a 404, or a 400 for a body that
            # is refused before any lookup (the same answer whatever the id).
            assert response.status_code in (400, 404), request

    run()
    assert_consistent(world)


def test_post_and_put_groups_never_crash(world: World) -> None:
    """``POST /Groups`` and ``PUT /Groups/{id}`` with generated bodies."""
    member_ids = st.sampled_from(world.user_ids + world.other_user_ids + ["", "nobody"])
    members = st.one_of(
        st.lists(
            st.fixed_dictionaries(
                {"value": st.one_of(member_ids, json_scalars)}, optional={"display": json_values}
            ),
            max_size=4,
        ),
        st.lists(member_ids, max_size=3),
        st.fixed_dictionaries({"value": member_ids}),
        json_values,
    )
    bodies = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "schemas": st.one_of(st.just([GROUP]), json_values),
                "displayName": st.one_of(st.just("UNIQUE"), st.just("Engineering"), json_values),
                "members": members,
                "externalId": json_scalars,
                "id": json_scalars,
            },
        ),
        json_values,
    )

    @fuzz_settings(120)
    @given(method=st.sampled_from(["POST", "PUT"]), body=bodies, seeded=st.booleans())
    def run(method: str, body: t.Any, seeded: bool) -> None:
        if isinstance(body, dict) and body.get("displayName") == "UNIQUE":
            body = {**body, "displayName": world.unique_group()}
        if method == "POST":
            response, request = call(world.scim, "POST", "/Groups", json_body=body)
            check_write(world.scim, response, request, "Groups")
            assert response.status_code in (201, 400, 409), request
            return
        if seeded:
            scim_id = world.group_ids[1]
        else:
            group = {"schemas": [GROUP], "displayName": world.unique_group()}
            scim_id = _created(world.scim.post("/Groups", group))["id"]
        response, request = call(world.scim, "PUT", f"/Groups/{scim_id}", json_body=body)
        check_write(world.scim, response, request, "Groups")
        assert response.status_code in (200, 400, 409), request

    run()
    assert_consistent(world)


# -- 3. PATCH ------------------------------------------------------------------------------------

_USER_PATH_ATTRIBUTES = [
    "userName",
    "name",
    "displayName",
    "nickName",
    "title",
    "locale",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "addresses",
    "externalId",
    "groups",
    "id",
    "meta",
    "schemas",
    "roles",
]
_SUB_ATTRIBUTES = ["givenName", "familyName", "value", "type", "primary", "display", "manager"]
_URNS = [USER, ENTERPRISE_USER, "urn:example:params:scim:schemas:extension:acme:2.0:User", GROUP]
_VALUE_FILTERS = [
    'type eq "work"',
    "primary eq true",
    'type eq "home" and primary eq false',
    'value eq "x" or value eq "y"',
    'not (type eq "work")',
    "type pr",
    "value gt 5",
    "display eq null",
    'value co "@"',
    "",
    '"',
    "type eq",
]


def patch_paths(attribute_names: t.Sequence[str], value_filters: st.SearchStrategy[str]) -> t.Any:
    """PATCH paths: ``attr``, ``attr.sub``, ``attr[filter]``, ``attr[filter].sub``, URN-prefixed
    forms, and garbage (including values that are not strings)."""
    attribute = st.one_of(
        random_case(attribute_names),
        st.from_regex(r"[A-Za-z$][\w$-]{0,10}", fullmatch=True),
    )
    sub = st.one_of(
        random_case(_SUB_ATTRIBUTES), st.from_regex(r"[A-Za-z$]\w{0,6}", fullmatch=True)
    )
    bare = st.one_of(
        attribute,
        st.tuples(attribute, sub).map(".".join),
        st.tuples(attribute, value_filters).map(lambda p: f"{p[0]}[{p[1]}]"),
        st.tuples(attribute, value_filters, sub).map(lambda p: f"{p[0]}[{p[1]}].{p[2]}"),
    )
    return st.one_of(
        bare,
        bare,
        bare,
        st.tuples(random_case(_URNS), bare).map(":".join),
        random_case(_URNS),
        st.sampled_from(["", " ", ".", "[]", "emails[", "emails]", "a..b", "urn:", "urn:x:"]),
        any_text,
        st.integers(1001, 1100).map(lambda n: "a" * n),
        json_values.filter(lambda v: not isinstance(v, str)),
    )


def _chance(numerator: int, denominator: int) -> st.SearchStrategy[bool]:
    """True with about this probability (shrinking towards True)."""
    return st.sampled_from([True] * numerator + [False] * (denominator - numerator))


@st.composite
def operations(
    draw: st.DrawFn,
    paths: st.SearchStrategy[t.Any],
    values: st.SearchStrategy[t.Any],
    pathless: st.SearchStrategy[t.Any],
    typical: st.SearchStrategy[t.Any],
) -> t.Any:
    """One PatchOp operation: half the time ``typical`` (a well-formed operation on a real
    attribute, with a hazardous value), else anything from the grammar, sometimes with keys
    missing, misspelt or extra."""
    if draw(_chance(1, 2)):
        return draw(typical)
    if draw(_chance(1, 20)):
        return draw(json_values)  # not an object at all
    valid_op = st.one_of(
        st.sampled_from(["add", "remove", "replace"]), random_case(["add", "remove", "replace"])
    )
    junk_op = st.one_of(st.sampled_from(["", "delete", "move", "copy", "test"]), json_scalars)
    op = draw(valid_op if draw(_chance(17, 20)) else junk_op)
    operation: dict[str, t.Any] = {}
    if draw(_chance(19, 20)):
        operation[draw(random_case(["op"]))] = op
    has_path = draw(_chance(7, 10))
    if has_path:
        operation[draw(random_case(["path"]))] = draw(paths)
    if draw(_chance(8, 10)):
        operation[draw(random_case(["value"]))] = draw(values if has_path else pathless)
    if draw(_chance(1, 10)):
        operation.update(draw(st.dictionaries(any_text, json_values, max_size=2)))
    return operation


@st.composite
def patch_bodies(draw: st.DrawFn, operation: st.SearchStrategy[t.Any]) -> t.Any:
    """A PatchOp body: mostly well-formed around generated operations, sometimes not."""
    operations_list = st.lists(operation, min_size=1, max_size=3)
    if draw(_chance(7, 10)):
        return {"schemas": [PATCH_OP], "Operations": draw(operations_list)}
    if draw(_chance(1, 10)):
        return draw(json_values)
    body: dict[str, t.Any] = {}
    schemas = draw(
        st.one_of(
            st.just([PATCH_OP]),
            st.just(_DELETE),
            st.sampled_from([[USER], PATCH_OP, [], [PATCH_OP, USER], None]),
            json_values,
        )
    )
    if schemas is not _DELETE:
        body["schemas"] = schemas
    key = draw(st.one_of(random_case(["Operations"]), st.sampled_from(["Ops", "operation"])))
    body[key] = draw(
        st.one_of(
            operations_list,
            st.just([]),
            operation,  # a single operation, not in a list
            json_values,
        )
    )
    if draw(_chance(1, 5)):
        body.update(draw(st.dictionaries(any_text, json_values, max_size=2)))
    return body


_user_patch_values = st.one_of(
    json_values,
    any_text,
    st.booleans(),
    st.sampled_from(["True", "false", "ada@example.com", "not-an-email", ""]),
    WRONG_VALUES["emails"],
    WRONG_VALUES["name"],
    st.dictionaries(random_case(_SUB_ATTRIBUTES), json_values, max_size=3),
)
_user_pathless = st.one_of(
    st.dictionaries(
        st.one_of(
            random_case(_USER_PATH_ATTRIBUTES),
            st.tuples(random_case(_URNS), random_case(_USER_PATH_ATTRIBUTES)).map(":".join),
            st.just(f"{ENTERPRISE_USER}:manager.value"),
            any_text,
        ),
        _user_patch_values,
        max_size=3,
    ),
    json_values,
)
user_patch_bodies = patch_bodies(
    operations(
        patch_paths(
            _USER_PATH_ATTRIBUTES,
            st.one_of(
                st.sampled_from(_VALUE_FILTERS), filters(["type", "primary", "value"]), any_text
            ),
        ),
        _user_patch_values,
        _user_pathless,
        st.fixed_dictionaries(
            {
                "op": st.one_of(
                    st.sampled_from(["add", "replace"]), random_case(["add", "replace"])
                ),
                "path": st.sampled_from(
                    [
                        "userName",
                        "displayName",
                        "externalId",
                        "password",
                        "active",
                        "title",
                        "name.givenName",
                        'emails[type eq "work"].value',
                        "emails[primary eq true].value",
                        f"{ENTERPRISE_USER}:department",
                        f"{ENTERPRISE_USER}:manager.value",
                    ]
                ),
                "value": st.one_of(hazard_text, any_text, json_scalars),
            }
        ),
    )
)


def test_patch_users_never_crash(world: World) -> None:
    """``PATCH /Users/{id}`` with generated PatchOp bodies."""
    targets = st.one_of(st.sampled_from(["fresh", "fresh", "fresh", "seeded", "other"]), any_text)

    @fuzz_settings(150)
    @given(target=targets, body=user_patch_bodies)
    def run(target: str, body: t.Any) -> None:
        foreign = target not in ("fresh", "seeded")
        if target == "fresh":
            created = world.scim.post("/Users", user_body(world.unique(), title="Engineer"))
            scim_id = _created(created)["id"]
        elif target == "seeded":
            scim_id = world.user_ids[1]
        elif target == "other":
            scim_id = world.other_user_ids[0]
        else:
            scim_id = target
        response, request = call(
            world.scim, "PATCH", f"/Users/{quote(scim_id, safe='')}", json_body=body
        )
        check_write(world.scim, response, request, "Users")
        assert response.status_code in (200, 400, 404, 409), request
        if foreign:
            assert response.status_code in (400, 404), request

    run()
    assert_consistent(world)


def test_patch_groups_never_crash(world: World) -> None:
    """``PATCH /Groups/{id}`` with generated PatchOp bodies; member values are this
    organization's users (active or not), another organization's users, or garbage."""
    ids = st.one_of(
        st.sampled_from(world.user_ids),
        st.sampled_from(world.other_user_ids),
        st.sampled_from(world.group_ids),
        st.sampled_from(["", "nobody", "00000000-0000-0000-0000-000000000000"]),
        any_text,
    )
    member = st.one_of(
        st.fixed_dictionaries({"value": ids}, optional={"display": json_scalars, "$ref": any_text}),
        st.fixed_dictionaries({"value": json_scalars}),
        ids,
        json_values,
    )
    members = st.one_of(st.lists(member, max_size=4), member, st.none())
    member_filters = st.one_of(
        ids.map(lambda i: f'value eq "{i}"'),
        st.lists(ids, min_size=1, max_size=3).map(
            lambda xs: " or ".join(f'value eq "{i}"' for i in xs)
        ),
        st.sampled_from(
            ['display eq "x"', 'value ne "x"', "value pr", "value eq 5", "value eq null", ""]
        ),
        filters(["value", "display", "type"], world.user_ids),
    )
    group_attributes = ["displayName", "members", "externalId", "id", "meta", "schemas"]
    values = st.one_of(members, any_text, st.sampled_from(["", " ", "Engineering", "EMPTY"]))
    pathless = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "id": ids,
                "displayName": st.one_of(any_text, json_scalars),
                "members": members,
                "externalId": json_scalars,
                f"{GROUP}:displayName": any_text,
            },
        ),
        st.dictionaries(st.one_of(random_case(group_attributes), any_text), values, max_size=3),
        json_values,
    )
    group_patch_bodies = patch_bodies(
        operations(
            st.one_of(
                patch_paths(group_attributes, member_filters),
                member_filters.map(lambda f: f"members[{f}]"),
            ),
            values,
            pathless,
            st.one_of(
                st.fixed_dictionaries(
                    {
                        "op": random_case(["add", "replace"]),
                        "path": random_case(["displayName", "externalId"]),
                        "value": st.one_of(hazard_text, any_text, json_scalars),
                    }
                ),
                st.fixed_dictionaries(
                    {"op": random_case(["add", "replace", "remove"]), "path": st.just("members")},
                    optional={"value": members},
                ),
                st.fixed_dictionaries(
                    {
                        "op": random_case(["remove"]),
                        "path": member_filters.map("members[{}]".format),
                    }
                ),
                st.fixed_dictionaries(  # Okta's rename
                    {
                        "op": st.just("replace"),
                        "value": st.fixed_dictionaries(
                            {"id": ids, "displayName": st.one_of(hazard_text, any_text)}
                        ),
                    }
                ),
            ),
        )
    )
    targets = st.one_of(st.sampled_from(["fresh", "fresh", "fresh", "seeded", "other"]), any_text)

    @fuzz_settings(150)
    @given(target=targets, body=group_patch_bodies, excluded=st.booleans())
    def run(target: str, body: t.Any, excluded: bool) -> None:
        foreign = target not in ("fresh", "seeded")
        if target == "fresh":
            group = {
                "schemas": [GROUP],
                "displayName": world.unique_group(),
                "members": [{"value": world.user_ids[0]}],
            }
            scim_id = _created(world.scim.post("/Groups", group))["id"]
        elif target == "seeded":
            scim_id = world.group_ids[0]
        elif target == "other":
            scim_id = world.other_group_ids[0]
        else:
            scim_id = target
        query = {"excludedAttributes": "members"} if excluded else None
        response, request = call(
            world.scim,
            "PATCH",
            f"/Groups/{quote(scim_id, safe='')}",
            json_body=body,
            query=query,
        )
        result = check(response, request)
        assert response.status_code in (200, 204, 400, 404, 409), request
        if foreign:
            assert response.status_code in (400, 404), request
        if result is not None:
            check_group(result, members=not excluded)
        if response.status_code in (200, 204):  # 204 unless attributes are asked for
            fetched, again = call(world.scim, "GET", f"/Groups/{scim_id}")
            group = check(fetched, again)
            check_group(group)
            assert not {m["value"] for m in group["members"]} & set(world.other_user_ids), (
                request,
                group,
            )

    run()
    assert_consistent(world)


# -- 4. raw garbage bodies -------------------------------------------------------------------------


def _nested(depth: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


def _user_with_title(raw_value: str) -> bytes:
    """A valid User body whose ``title`` is ``raw_value``, written as is (not JSON-encoded)."""
    body = json.dumps(user_body(f"raw.{uuid.uuid4().hex[:12]}@example.com"))
    return (body[:-1] + f', "title": {raw_value}}}').encode()


#: Nesting depths. Hypothesis raises the recursion limit while it runs an example, so
#: depths near Python's default limit (about 470 to 3000 here) could be stored inside an
#: example and then break the consistency check that runs outside it: that range is left
#: to the explicit reproduction ``test_bug_deeply_nested_json_is_a_500``.
deep = st.one_of(st.integers(1, 150), st.integers(5_000, 300_000))

raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda s: s.encode()),
    st.sampled_from(
        [b"", b" ", b"null", b"true", b"0", b'"x"', b"[]", b"{}", b"{", b"NaN", b"-Infinity"]
    ),
    st.sampled_from([b"\xff\xfe{}", b"\xef\xbb\xbf{}", b'{"userName": "\xff"}', b"\x00"]),
    json_scalars.map(lambda v: json.dumps(v).encode()),
    deep.map(lambda n: _nested(n, "[", "]").encode()),
    deep.map(lambda n: _nested(n, '{"a":', "}").encode()),
    # a valid user with an attribute nested deep, or holding a non-JSON number
    deep.map(lambda n: _user_with_title(_nested(n, "[", "]"))),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000]).map(
        _user_with_title
    ),
    deep.map(
        lambda n: (
            '{"schemas": ["' + PATCH_OP + '"], "Operations": [{"op": "add", "path": "title", '
            '"value": ' + _nested(n, "[", "]") + "}]}"
        ).encode()
    ),
    st.just(b"x" * (1024 * 1024 + 1)),
)


def test_garbage_bodies_never_crash(world: World) -> None:
    """Non-JSON text, invalid UTF-8, JSON scalars, huge nesting, oversized bodies."""
    targets = [
        ("POST", "/Users"),
        ("PUT", "/Users/{user}"),
        ("PATCH", "/Users/{user}"),
        ("POST", "/Groups"),
        ("PUT", "/Groups/{group}"),
        ("PATCH", "/Groups/{group}"),
    ]
    content_types = st.sampled_from(
        [
            "application/scim+json",
            "application/scim+json; charset=utf-8",
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            None,
        ]
    )

    @fuzz_settings(120)
    @given(target=st.sampled_from(targets), raw=raw_bodies, content_type=content_types)
    def run(target: tuple[str, str], raw: bytes, content_type: str | None) -> None:
        method, template = target
        path = template.format(user=world.user_ids[0], group=world.group_ids[0])
        response, request = call(
            world.scim, method, path, data=raw, headers={"Content-Type": content_type}
        )
        check(response, request)

    run()
    assert_consistent(world)


def test_fuzz_state_is_consistent(world: World) -> None:
    """The consistency check itself passes on the seeded organization (a baseline)."""
    assert_consistent(world)


# -- bugs found by the fuzzing above: minimized reproductions -------------------------------------
#
# Each fails until its bug is fixed. The property tests above fail on the same inputs.


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
