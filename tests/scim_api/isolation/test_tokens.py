"""The bearer token alone decides the organization: disabled provisioning, unknown,
malformed, missing and foreign tokens get 401 everywhere and change nothing; the
accepted header forms; rotation with and without a grace period.
"""

from __future__ import annotations

import base64
import typing as t
from datetime import timedelta
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import delete

from flask_okta_scim.sqla.directory import connections as _connections
from sample_app.models import Organization
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.scim_api.isolation.tenants import Tenant
from tests.scim_api.isolation.tenants import filtered
from tests.scim_api.isolation.tenants import group_body
from tests.scim_api.isolation.tenants import snapshot


def assert_unauthorized(resp: t.Any, what: str = "") -> None:
    assert resp.status_code == 401, f"{what}: {resp.status_code} {resp.get_data(as_text=True)}"
    assert_scim_error(resp, 401)
    challenge = resp.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("bearer"), (what, challenge)


# -- tokens --------------------------------------------------------------------------------------


def every_endpoint(tenant: Tenant) -> list[tuple[str, str, t.Any]]:
    """One request of each kind the SCIM API authenticates, on ``tenant``'s resources."""
    uid, gid = tenant.user_id("ann"), tenant.group_id("Alpha Engineering")
    by_user_name = quote('userName eq "ann@alpha.example"')
    by_display_name = quote('displayName eq "Alpha Engineering"')
    return [
        ("GET", "/Users", None),
        ("GET", f"/Users?filter={by_user_name}", None),
        ("POST", "/Users", user_body("newcomer@alpha.example")),
        ("GET", f"/Users/{uid}", None),
        ("PUT", f"/Users/{uid}", user_body("ann@alpha.example", active=False)),
        ("PATCH", f"/Users/{uid}", patch_body({"op": "replace", "value": {"active": False}})),
        ("DELETE", f"/Users/{uid}", None),
        ("GET", "/Groups", None),
        ("GET", f"/Groups?filter={by_display_name}", None),
        ("POST", "/Groups", group_body("Newcomers", [])),
        ("GET", f"/Groups/{gid}", None),
        ("PUT", f"/Groups/{gid}", group_body("Renamed", [])),
        ("PATCH", f"/Groups/{gid}", patch_body({"op": "remove", "path": "members"})),
        ("DELETE", f"/Groups/{gid}", None),
    ]


def assert_refused_everywhere(client: ScimClient, tenant: Tenant, **kw: t.Any) -> None:
    for method, path, body in every_endpoint(tenant):
        assert_unauthorized(client.request(method, path, body, **kw), f"{method} {path}")


def disable(app: Flask, org_id: t.Any) -> None:
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        directory.disable_provisioning(directory.get_organization(org_id))


def enable(app: Flask, org_id: t.Any) -> str:
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        return t.cast(str, directory.enable_provisioning(directory.get_organization(org_id)))


def rotate(app: Flask, org_id: t.Any, grace: timedelta) -> str:
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        return t.cast(str, directory.rotate_token(directory.get_organization(org_id), grace=grace))


def works(app: Flask, token: str, expected_user_ids: list[str]) -> bool:
    """Whether ``token`` authenticates, checking it sees exactly the expected organization."""
    resp = ScimClient(app, token).get("/Users")
    if resp.status_code == 401:
        assert_unauthorized(resp)
        return False
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert sorted(r["id"] for r in resp.get_json()["Resources"]) == sorted(expected_user_ids)
    return True


def test_disabled_provisioning_token_gets_401_everywhere_and_changes_nothing(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    before_a, before_b = snapshot(a), snapshot(b)
    disable(app, a.org_id)
    assert_refused_everywhere(a.client, a)
    assert_refused_everywhere(a.client, a, headers={"Authorization": a.token})  # bare, too
    assert snapshot(b) == before_b  # B keeps working, unchanged

    new_token = enable(app, a.org_id)
    assert new_token != a.token
    assert_unauthorized(a.client.get("/Users"), "the old token after re-enabling")
    a.client = ScimClient(app, new_token)
    assert snapshot(a) == before_a


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-token-anyone-issued",
        "Bearer ",
        "Bearer",
        "",
        "Bearer two words",
        "Bearer " + "x" * 600,
        "Basic {b64}",
        "Basic {token}",
        "Token {token}",
        "Bearer {token}x",
        "Bearer {token_upper}",
    ],
    ids=[
        "unknown",
        "empty-bearer",
        "bearer-only",
        "empty-header",
        "two-words",
        "very-long",
        "basic-base64",
        "basic-raw-token",
        "other-scheme",
        "token-plus-one-char",
        "token-upper-case",
    ],
)
def test_bad_authorization_gets_401_everywhere(
    tenants: tuple[Tenant, Tenant], authorization: str
) -> None:
    a, _ = tenants
    before = snapshot(a)
    value = authorization.format(
        token=a.token,
        token_upper=a.token.upper(),
        b64=base64.b64encode(f"{a.token}:".encode()).decode(),
    )
    assert_refused_everywhere(a.client, a, headers={"Authorization": value})
    assert snapshot(a) == before


def test_missing_authorization_gets_401_everywhere(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    before = snapshot(a)
    assert_refused_everywhere(ScimClient(app, None), a)
    assert snapshot(a) == before


def test_token_of_a_deleted_organization_gets_401(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    before_b = snapshot(b)
    with app.app_context():
        db.session.execute(delete(Organization).where(Organization.id == a.org_id))
        db.session.commit()
    assert_unauthorized(a.client.get("/Users"), "deleted organization")
    assert_unauthorized(a.client.get(f"/Users/{a.user_id('ann')}"), "deleted organization")
    assert snapshot(b) == before_b


@pytest.mark.parametrize(
    "authorization",
    ["{token}", "bearer {token}", "BEARER {token}", "  Bearer   {token}  "],
    ids=["bare", "lower-case-bearer", "upper-case-bearer", "extra-spaces"],
)
def test_accepted_authorization_forms_see_only_their_organization(
    tenants: tuple[Tenant, Tenant], authorization: str
) -> None:
    a, b = tenants
    headers = {"Authorization": authorization.format(token=b.token)}
    resp = b.client.get("/Users", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert sorted(r["id"] for r in resp.get_json()["Resources"]) == sorted(b.user_ids)
    assert_scim_error(b.client.get(f"/Users/{a.user_id('ann')}", headers=headers), 404)
    created = b.client.post("/Users", user_body("carl@beta.example"), headers=headers)
    assert created.status_code == 201
    assert filtered(a.client, "Users", 'userName eq "carl@beta.example"')["totalResults"] == 0


# -- rotation ------------------------------------------------------------------------------------


def test_rotation_keeps_old_token_until_the_new_one_is_used(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    old = a.token
    new = rotate(app, a.org_id, timedelta(hours=1))
    assert new != old
    assert works(app, old, a.user_ids)
    assert works(app, old, a.user_ids)  # using the old one does not retire anything
    assert works(app, new, a.user_ids)
    assert not works(app, old, a.user_ids)
    assert works(app, new, a.user_ids)
    assert works(app, b.token, b.user_ids), "A's rotation retired B's token"


def test_rotation_old_token_stops_when_the_grace_runs_out(
    app: Flask, tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tenants
    new = rotate(app, a.org_id, timedelta(minutes=10))
    assert works(app, a.token, a.user_ids)
    real = _connections.utcnow
    monkeypatch.setattr(_connections, "utcnow", lambda: real() + timedelta(minutes=11))
    assert not works(app, a.token, a.user_ids)
    assert works(app, new, a.user_ids)
    assert works(app, b.token, b.user_ids)


def test_rotation_with_zero_grace_stops_the_old_token_at_once(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    new = rotate(app, a.org_id, timedelta(0))
    assert not works(app, a.token, a.user_ids)
    assert works(app, new, a.user_ids)
    assert works(app, b.token, b.user_ids)


def test_zero_grace_rotation_stops_every_older_token_at_once(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    """An emergency rotation (grace 0) after a graceful one must also stop the first token."""
    a, _ = tenants
    middle = rotate(app, a.org_id, timedelta(hours=1))
    newest = rotate(app, a.org_id, timedelta(0))
    assert not works(app, middle, a.user_ids)
    assert not works(app, a.token, a.user_ids), "the first token survived a zero-grace rotation"
    assert works(app, newest, a.user_ids)


def test_first_use_of_the_new_token_retires_the_old_one_even_if_the_request_fails(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    new = rotate(app, a.org_id, timedelta(hours=1))
    assert_scim_error(ScimClient(app, new).get("/Users/no-such-id"), 404)
    assert not works(app, a.token, a.user_ids), "the old token outlived the new token's first use"
    assert works(app, new, a.user_ids)


def test_rotation_in_b_never_affects_a(app: Flask, tenants: tuple[Tenant, Tenant]) -> None:
    a, b = tenants
    before_a = snapshot(a)
    new_b = rotate(app, b.org_id, timedelta(0))
    assert works(app, new_b, b.user_ids)
    assert not works(app, b.token, b.user_ids)
    assert works(app, a.token, a.user_ids)
    assert snapshot(a) == before_a
