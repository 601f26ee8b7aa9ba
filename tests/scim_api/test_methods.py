"""Which verbs each SCIM endpoint answers: HEAD as GET, every other verb a SCIM 405 without
looking at the token, and the method views' one authentication per request."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import user_body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("OPTIONS", "/Users"),
        ("PUT", "/Users"),
        ("PATCH", "/Users"),
        ("DELETE", "/Users"),
        ("POST", "/Users/abc"),
        ("OPTIONS", "/Users/abc"),
        ("OPTIONS", "/Groups"),
        ("PUT", "/Groups"),
        ("DELETE", "/Groups"),
        ("POST", "/Groups/abc"),
    ],
)
def test_unsupported_verbs_are_scim_405_even_without_a_token(
    app: Flask, method: str, path: str
) -> None:
    anonymous = ScimClient(app, None)
    assert_scim_error(anonymous.request(method, path), 405)


def test_collection_405_says_what_is_allowed(app: Flask) -> None:
    response = ScimClient(app, None).request("PUT", "/Groups")
    assert "GET or POST" in response.get_json(force=True)["detail"]


def test_supported_verbs_need_the_token(app: Flask) -> None:
    anonymous = ScimClient(app, None)
    for method, path in [("GET", "/Users"), ("POST", "/Users"), ("DELETE", "/Groups/x")]:
        assert_scim_error(anonymous.request(method, path, {} if method == "POST" else None), 401)


def test_head_is_answered_as_get_without_a_body(scim: ScimClient) -> None:
    created = scim.post("/Users", user_body("head@example.com")).get_json()
    for path in ("/Users", f"/Users/{created['id']}", "/Groups"):
        head, get = scim.request("HEAD", path), scim.get(path)
        assert head.status_code == get.status_code == 200
        assert head.mimetype == "application/scim+json"
        assert head.get_data() == b""
        assert head.headers.get("ETag") == get.headers.get("ETag")


def test_head_and_get_honour_if_none_match(scim: ScimClient) -> None:
    created = scim.post("/Users", user_body("etag@example.com"))
    tag = created.headers["ETag"]
    path = f"/Users/{created.get_json()['id']}"
    for method in ("GET", "HEAD"):
        assert scim.request(method, path, headers={"If-None-Match": tag}).status_code == 304
        assert scim.request(method, path, headers={"If-None-Match": '"999"'}).status_code == 200
        assert scim.request(method, path, headers={"If-None-Match": "*"}).status_code == 304
