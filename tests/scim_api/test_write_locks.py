"""Writes lock the resource they change, and check If-Match after the lock (RFC 7644 §3.14):
of two concurrent PATCHes with one If-Match exactly one succeeds, and concurrent PATCHes of
different attributes both land. Real concurrent HTTP on PostgreSQL."""

from __future__ import annotations

import json
import typing as t
import urllib.error
import urllib.request
from collections import Counter

import pytest
from flask import Flask

from tests.conftest import OKTA_HEADERS
from tests.conftest import patch_body
from tests.conftest import provisioning_org
from tests.conftest import user_body
from tests.scim_api.test_concurrency import TIMEOUT
from tests.scim_api.test_concurrency import Answer
from tests.scim_api.test_concurrency import assert_no_server_error
from tests.scim_api.test_concurrency import together

pytestmark = pytest.mark.postgresql_only

ROUNDS = 8
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


class Client:
    """Okta's headers, a bearer token, and any extra header (If-Match)."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def send(
        self, method: str, path: str, body: t.Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        all_headers = {**OKTA_HEADERS, "Authorization": f"Bearer {self.token}"}
        all_headers.pop("Accept-Encoding", None)
        all_headers.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/scim+json"
        request = urllib.request.Request(
            self.base + "/scim/v2" + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw, status, got = response.read(), response.status, response.headers
        except urllib.error.HTTPError as error:
            with error:
                raw, status, got = error.read(), error.code, error.headers
        return Answer(status, dict(got.items()), json.loads(raw) if raw else None)


@pytest.fixture
def scim_live(app: Flask, live: str) -> Client:
    _, token = provisioning_org(app, "Acme")
    client = Client(live, token)
    assert client.send("GET", "/Users?count=1").status == 200  # the token's first use
    return client


def replace(path: str, value: t.Any) -> dict[str, t.Any]:
    return patch_body({"op": "replace", "path": path, "value": value})


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_one_if_match_lets_exactly_one_concurrent_patch_through(scim_live, round_):
    created = scim_live.send("POST", "/Users", user_body(f"im{round_}@atko.com"))
    path, tag = f"/Users/{created.body['id']}", created.headers["ETag"]
    answers = together(
        4,
        lambda i: scim_live.send(
            "PATCH", path, replace("title", f"title {i}"), headers={"If-Match": tag}
        ),
    )
    assert_no_server_error(answers)
    assert Counter(a.status for a in answers) == {200: 1, 412: 3}, [a.status for a in answers]
    winner = next(a for a in answers if a.status == 200)
    assert scim_live.send("GET", path).body["title"] == winner.body["title"]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_patches_of_different_attributes_both_land(scim_live, round_):
    created = scim_live.send("POST", "/Users", user_body(f"lu{round_}@atko.com"))
    path = f"/Users/{created.body['id']}"
    changes = [("title", "Engineer"), ("nickName", "Lu"), ("userType", "Employee")]
    answers = together(3, lambda i: scim_live.send("PATCH", path, replace(*changes[i])))
    assert_no_server_error(answers)
    assert [a.status for a in answers] == [200, 200, 200]
    final = scim_live.send("GET", path).body
    assert {name: final.get(name) for name, _ in changes} == dict(changes)
    assert final["meta"]["version"] == 'W/"4"'


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_group_rename_racing_its_delete_is_never_a_server_error(scim_live, round_):
    created = scim_live.send("POST", "/Groups", {"schemas": [GROUP], "displayName": f"G{round_}"})
    path = f"/Groups/{created.body['id']}"
    answers = together(
        2,
        lambda i: (
            scim_live.send("PATCH", path, replace("displayName", f"R{round_}"))
            if i == 0
            else scim_live.send("DELETE", path)
        ),
    )
    assert_no_server_error(answers)
    assert answers[1].status == 204
    assert answers[0].status in (204, 404), answers[0]
    assert scim_live.send("GET", path).status == 404
