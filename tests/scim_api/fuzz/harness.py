"""The fuzzing harness: Hypothesis settings, the organization under fuzz, sending a
request and checking the invariants of its answer, raw bodies, and the consistency
check that runs after each property test. See :mod:`tests.scim_api.fuzz`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import traceback
import typing as t
import uuid
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import quote as _quote
from urllib.parse import urlencode

import pytest
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import settings

from flask_okta_scim.scim.constants import CONTENT_TYPE
from flask_okta_scim.scim.constants import GROUP
from flask_okta_scim.scim.constants import LIST_RESPONSE
from flask_okta_scim.scim.constants import USER
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import user_body

# -- settings -------------------------------------------------------------------------------------

#: A failing example may be large (a 300,000-deep body); its report must not turn into an
#: error about its size under the project's ``filterwarnings = ["error"]``. Every test
#: module of this package applies it: ``pytestmark = large_examples_allowed``.
large_examples_allowed = pytest.mark.filterwarnings(
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

    Installed on the SCIM logger for every fuzz test (see conftest.py): a property test that
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


# -- raw bodies ----------------------------------------------------------------------------------


def _nested(depth: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


def _user_with_title(raw_value: str) -> bytes:
    """A valid User body whose ``title`` is ``raw_value``, written as is (not JSON-encoded)."""
    body = json.dumps(user_body(f"raw.{uuid.uuid4().hex[:12]}@example.com"))
    return (body[:-1] + f', "title": {raw_value}}}').encode()
