"""The admin console's Single sign-on and Provisioning screens over HTTP (issue 12, first part):
who gets in, CSRF, connecting, configuring with inline errors and nothing changed, the token
shown once. The browser walk-through is tests/e2e/."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask

from sample_app.models import db
from sample_app.models import okta
from tests.cert_factory import make_certificate
from tests.cert_factory import private_key
from tests.conftest import BASE_URL
from tests.conftest import sample_app_on
from tests.saml_idp import IDP_CERT
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import post_acs
from tests.saml_idp import start_login

PREFIX = "/okta-scim/admin"
IDP = TestIdP()


@pytest.fixture
def app(database_url: str, backend: str) -> t.Iterator[Flask]:
    # CSRF on, as in production: every form below must carry its token.
    with sample_app_on(database_url, backend, WTF_CSRF_ENABLED=True) as app:
        yield app


@pytest.fixture
def org(app: Flask) -> int:
    """Acme, with an admin (ada, password "ada-pw") and a plain member (bob)."""
    with app.app_context(), okta.directory().atomic() as directory:
        acme = directory.create_organization("Acme")
        for email, role in (("ada@acme.example", "admin"), ("bob@acme.example", "member")):
            account, _ = directory.ensure_account(email)
            account.set_password(f"{email.split('@')[0]}-pw")
            directory.add_member(acme, account, role=role)
        return t.cast(int, acme.id)


def csrf(page: t.Any) -> str:
    found = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
    assert found, page.data[:500]
    return found.group(1).decode()


def signed_in(app: Flask, email: str) -> t.Any:
    client = app.test_client()
    login = client.get("/login")
    name = email.split("@")[0]
    answer = client.post(
        "/login", data={"email": email, "password": f"{name}-pw", "csrf_token": csrf(login)}
    )
    assert answer.status_code == 302, answer.data
    return client


@pytest.fixture
def admin(app: Flask, org: int) -> t.Any:
    return signed_in(app, "ada@acme.example")


def post(client: t.Any, path: str, page_path: str, **data: t.Any) -> t.Any:
    """POST a form the way a browser does: with the token of the page it is on."""
    token = csrf(client.get(page_path))
    return client.post(path, data={"csrf_token": token, **data})


def connection(app: Flask, org: int) -> t.Any:
    with app.app_context():
        directory = okta.directory()
        found = directory.get_connection(directory.get_organization(org))
        if found is not None:
            db.session.expunge(found)
        return found


# -- who gets in -------------------------------------------------------------------------------


@pytest.mark.parametrize("screen", ["sso", "provisioning"])
def test_anonymous_visitors_go_to_the_host_sign_in(app, org, screen):
    answer = app.test_client().get(f"{PREFIX}/{org}/{screen}")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


@pytest.mark.parametrize("screen", ["sso", "provisioning"])
def test_a_member_who_is_not_an_admin_is_refused(app, org, screen):
    bob = signed_in(app, "bob@acme.example")
    assert bob.get(f"{PREFIX}/{org}/{screen}").status_code == 403
    # With a valid token (from a page Bob may see): still refused.
    assert post(bob, f"{PREFIX}/{org}/sso/connect", "/login").status_code == 403
    assert connection(app, org) is None


def test_an_admin_of_another_organization_is_refused_and_learns_nothing(app, org, admin):
    with app.app_context(), okta.directory().atomic() as directory:
        other = directory.create_organization("Globex").id
    forbidden = admin.get(f"{PREFIX}/{other}/sso")
    missing = admin.get(f"{PREFIX}/999999/sso")
    assert forbidden.status_code == missing.status_code == 403
    assert b"Globex" not in forbidden.data


def test_a_post_without_the_csrf_token_changes_nothing(app, org, admin):
    answer = admin.post(f"{PREFIX}/{org}/sso/connect")
    assert answer.status_code == 400
    assert connection(app, org) is None


def test_pages_are_not_cached(app, org, admin):
    answer = admin.get(f"{PREFIX}/{org}/sso")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Frame-Options"] == "DENY"


# -- Single sign-on ----------------------------------------------------------------------------


def test_screens_render_inside_the_host_layout_with_one_flash(app, org, admin):
    """The sample sets OKTA_SCIM_ADMIN_LAYOUT = "base.html": its header, our tabs, one message."""
    post(admin, f"{PREFIX}/{org}/sso/connect", f"{PREFIX}/{org}/sso")
    page = admin.get(f"{PREFIX}/{org}/sso")
    assert b"Uptime sample" in page.data and b'aria-label="Okta settings"' in page.data
    assert page.data.count(b"Connected. Enter the Integration ID") == 1
    assert page.data.count(b"<main") == 1


def test_connect_shows_the_integration_id(app, org, admin):
    page = admin.get(f"{PREFIX}/{org}/sso")
    assert b"Not set up" in page.data and b">Connect</button>" in page.data
    answer = post(admin, f"{PREFIX}/{org}/sso/connect", f"{PREFIX}/{org}/sso")
    assert answer.status_code == 302
    made = connection(app, org)
    page = admin.get(f"{PREFIX}/{org}/sso")
    assert f'id="integration-id" type="text" value="{made.integration_id}" readonly'.encode() in (
        page.data
    )
    assert b'<label for="integration-id">Integration ID</label>' in page.data
    assert f"/users/sign-in/sso/okta/{made.integration_id}/acs".encode() in page.data


def connected_page(app: Flask, org: int, admin: t.Any) -> str:
    post(admin, f"{PREFIX}/{org}/sso/connect", f"{PREFIX}/{org}/sso")
    return f"{PREFIX}/{org}/sso"


def test_the_sso_url_and_certificate_configure_the_connection(app, org, admin):
    page = connected_page(app, org, admin)
    answer = post(
        admin,
        page,
        page,
        sso_url=OKTA_SSO_URL,
        certificate=IDP_CERT.read_text(),
        allow_idp_initiated="y",
    )
    assert answer.status_code == 302, answer.data
    made = connection(app, org)
    assert made.status == "configured" and made.idp_sso_url == OKTA_SSO_URL
    assert made.idp_entity_id == OKTA_ENTITY_ID and made.allow_idp_initiated is True
    shown = admin.get(page)
    assert b"Configured" in shown.data and b"CN=Test Okta IdP" in shown.data
    assert b'<input checked id="allow_idp_initiated"' in shown.data
    test = re.search(
        rb'<form method="get" action="([^"]+)">\s*'
        rb'<input type="hidden" name="next" value="([^"]+)">\s*'
        rb'<button type="submit">Test sign-in',
        shown.data,
    )
    assert test and test.group(2).decode() == page + "?test=1"
    started = admin.get(test.group(1).decode() + "?next=" + page)
    assert started.status_code == 302 and OKTA_SSO_URL in started.headers["Location"]
    # Saved again with the box unticked: IdP-initiated sign-in is off.
    post(admin, page, page, sso_url=OKTA_SSO_URL, certificate=IDP_CERT.read_text())
    assert connection(app, org).allow_idp_initiated is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"sso_url": OKTA_SSO_URL, "certificate": "not a certificate"},
            b"not an X.509 certificate",
        ),
        ({"sso_url": "ftp://idp.example/sso", "certificate": "x"}, b"must be an http(s) URL"),
        ({"sso_url": OKTA_SSO_URL}, b"Metadata URL, or its SSO URL and X.509 certificate"),
        ({"metadata_url": "https://127.0.0.1:9/metadata"}, b"metadata"),
        (
            {"sso_url": "https://idp.example/sso", "certificate": IDP_CERT.read_text()},
            b"entity ID is needed",
        ),
    ],
)
def test_bad_input_is_an_inline_error_and_changes_nothing(app, org, admin, data, message):
    page = connected_page(app, org, admin)
    before = connection(app, org)
    answer = post(admin, page, page, **data)
    assert answer.status_code == 400
    assert b'role="alert"' in answer.data and message in answer.data, answer.data
    after = connection(app, org)
    assert (after.status, after.idp_sso_url, after.idp_certificates) == (
        before.status,
        before.idp_sso_url,
        before.idp_certificates,
    )


def test_a_weak_certificate_is_refused_inline(app, org, admin):
    page = connected_page(app, org, admin)
    weak = make_certificate(private_key("rsa", 1024))
    answer = post(admin, page, page, sso_url=OKTA_SSO_URL, certificate=weak)
    assert answer.status_code == 400 and b"1024" in answer.data
    assert connection(app, org).status == "pending"


# -- Provisioning ------------------------------------------------------------------------------


def connected_through_okta(app: Flask, org: int, admin: t.Any) -> None:
    page = connected_page(app, org, admin)
    post(
        admin,
        page,
        page,
        sso_url=OKTA_SSO_URL,
        certificate=IDP_CERT.read_text(),
        allow_idp_initiated="y",
    )
    integration_id = connection(app, org).integration_id
    post_acs(
        app.test_client(), integration_id, IDP.for_connection(integration_id, "ada@acme.example")
    )
    assert connection(app, org).status == "connected"


def test_enable_waits_for_a_connected_sso(app, org, admin):
    page = admin.get(f"{PREFIX}/{org}/provisioning")
    assert re.search(rb"<button type=\"submit\" disabled[^>]*>Enable provisioning", page.data)
    refused = issue(admin, f"{PREFIX}/{org}/provisioning/enable", f"{PREFIX}/{org}/provisioning")
    assert refused.status_code == 409 and b"single sign-on" in refused.data


def issue(client: t.Any, path: str, page: str) -> t.Any:
    """POST Enable or Rotate as the page's form does: its CSRF token and one-time value."""
    shown = client.get(page)
    once = re.search(rb'name="once" type="hidden" value="([^"]+)"', shown.data).group(1)
    return client.post(path, data={"csrf_token": csrf(shown), "once": once.decode()})


def test_the_bearer_token_is_shown_once_and_works(app, org, admin):
    connected_through_okta(app, org, admin)
    page = f"{PREFIX}/{org}/provisioning"
    answer = issue(admin, f"{PREFIX}/{org}/provisioning/enable", page)
    assert answer.status_code == 200
    token = re.search(rb'id="bearer-token" type="text" value="([^"]+)"', answer.data).group(1)
    assert b"you will not see it again" in answer.data
    assert answer.data.count(token) == 1  # rendered once, in the labelled field
    assert token not in admin.get(page).data  # not on the next view
    scim = app.test_client().get(
        "/scim/v2/Users?count=1", headers={"Authorization": f"Bearer {token.decode()}"}
    )
    assert scim.status_code == 200
    rotated = issue(admin, f"{PREFIX}/{org}/provisioning/rotate", page)
    new = re.search(rb'id="bearer-token" type="text" value="([^"]+)"', rotated.data).group(1)
    assert new != token
    off = post(admin, f"{PREFIX}/{org}/provisioning/disable", page)
    assert off.status_code == 302
    again = app.test_client().get(
        "/scim/v2/Users?count=1", headers={"Authorization": f"Bearer {new.decode()}"}
    )
    assert again.status_code == 401


# -- Test sign-in ------------------------------------------------------------------------------


def configured_on_public_url(app: Flask, org: int) -> t.Any:
    """The admin, signed in by password on the app's public (https) URL, with Okta configured.

    Flask-WTF checks the Referer of https POSTs: each POST names the page it came from.
    """
    client = app.test_client()

    def submit(url: str, page: str, **data: str) -> None:
        token = csrf(client.get(page))
        answer = client.post(url, data={"csrf_token": token, **data}, headers={"Referer": page})
        assert answer.status_code == 302, answer.data

    submit(f"{BASE_URL}/login", f"{BASE_URL}/login", email="ada@acme.example", password="ada-pw")
    page = f"{BASE_URL}{PREFIX}/{org}/sso"
    submit(f"{page}/connect", page)
    submit(
        page,
        page,
        sso_url=OKTA_SSO_URL,
        certificate=IDP_CERT.read_text(),
        allow_idp_initiated="y",
    )
    return client


def run_test_sign_in(app: Flask, org: int, idp: TestIdP) -> t.Any:
    client = configured_on_public_url(app, org)
    integration_id = connection(app, org).integration_id
    request_id = start_login(client, integration_id, next=f"{PREFIX}/{org}/sso?test=1")
    xml = idp.for_connection(integration_id, "ada@acme.example", in_response_to=request_id)
    answer = post_acs(client, integration_id, xml)
    assert answer.status_code == 302, answer.data
    return client, answer.headers["Location"]


def test_a_test_sign_in_returns_with_success(app, org):
    client, back = run_test_sign_in(app, org, IDP)
    assert back == f"{PREFIX}/{org}/sso?test=1"
    page = client.get(f"{BASE_URL}{back}")
    assert b"Test sign-in succeeded: you signed in through Okta as ada@acme.example" in page.data
    assert b"Connected" in page.data


def test_a_failed_test_sign_in_returns_with_the_reason(app, org):
    """Signed by somebody else's key: back on the page, which says why (the admin's own IdP)."""
    client, back = run_test_sign_in(app, org, TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT))
    assert back == f"{PREFIX}/{org}/sso?test=failed"
    page = client.get(f"{BASE_URL}{back}")
    assert page.status_code == 200
    # The response names its signing certificate: the reason says it is not the connection's.
    assert re.search(
        rb'role="alert" id="test-result">Test sign-in failed: the IdP signs with a certificate '
        rb"this connection does not have: SHA-256 [0-9A-F:]{95}",
        page.data,
    )
    assert b"Configured" in page.data  # not connected by a failure


def test_a_refused_sign_in_that_is_no_test_gets_the_error_page(app, org):
    client = configured_on_public_url(app, org)
    integration_id = connection(app, org).integration_id
    request_id = start_login(client, integration_id, next="/")
    other = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT)
    xml = other.for_connection(integration_id, "ada@acme.example", in_response_to=request_id)
    answer = post_acs(client, integration_id, xml)
    assert answer.status_code == 403 and b"signature" not in answer.data


def test_init_admin_needs_init_app_first():
    with pytest.raises(RuntimeError, match="init_app"):
        okta.init_admin(Flask("elsewhere"), may_administer=lambda account, org: True)


def test_sending_the_same_issue_form_twice_issues_one_token(app, org, admin):
    """A reload of the answer re-sends the POST: nothing issued, and it says so."""
    connected_through_okta(app, org, admin)
    page = f"{PREFIX}/{org}/provisioning"
    shown = admin.get(page)
    once = re.search(rb'name="once" type="hidden" value="([^"]+)"', shown.data).group(1)
    form = {"csrf_token": csrf(shown), "once": once.decode()}
    first = admin.post(f"{PREFIX}/{org}/provisioning/enable", data=form)
    assert first.status_code == 200 and b'id="bearer-token"' in first.data
    again = admin.post(f"{PREFIX}/{org}/provisioning/rotate", data=form)
    assert again.status_code == 302
    assert b"no new token was issued" in admin.get(page).data
    with app.app_context():
        tokens = okta.models.scim_token
        assert db.session.query(tokens).count() == 1
