"""The admin console's Advanced SAML settings: the SP key, signed requests, encrypted
assertions and Okta's Single Logout URL, over HTTP with CSRF on."""

from __future__ import annotations

import re
import typing as t

from flask import Flask

from flask_okta_scim.testing.idp_options import read_sp_request
from tests.app.test_admin_console import PREFIX
from tests.app.test_admin_console import admin  # noqa: F401
from tests.app.test_admin_console import app  # noqa: F401  (CSRF on)
from tests.app.test_admin_console import connected_page
from tests.app.test_admin_console import connection
from tests.app.test_admin_console import org  # noqa: F401
from tests.app.test_admin_console import post
from tests.saml_idp import IDP_CERT
from tests.saml_idp import OKTA_SSO_URL

SLO = "https://acme.okta.example/app/x/exkTEST/slo/saml"


def configured(flask_app: Flask, org_id: int, client: t.Any) -> str:
    page = connected_page(flask_app, org_id, client)
    r = post(client, page, page, sso_url=OKTA_SSO_URL, certificate=IDP_CERT.read_text())
    assert r.status_code == 302
    return page


def test_generate_download_and_roll_over_the_key(app, org, admin):  # noqa: F811
    page = configured(app, org, admin)
    shown = admin.get(page)
    assert b"Advanced SAML settings" in shown.data and b'id="sp-key-none"' in shown.data
    assert b'id="slo-url"' in shown.data
    r = post(admin, f"{PREFIX}/{org}/sso/sp-key", page, action="generate")
    assert r.status_code == 302
    shown = admin.get(page)
    assert b'id="sp-key-active"' in shown.data and b"Activate next key" not in shown.data
    assert b"PRIVATE KEY" not in shown.data
    pem = admin.get(f"{PREFIX}/{org}/sso/sp-certificate.pem")
    assert pem.status_code == 200 and pem.data.startswith(b"-----BEGIN CERTIFICATE-----")
    assert "attachment" in pem.headers["Content-Disposition"]
    assert admin.get(f"{PREFIX}/{org}/sso/sp-certificate.pem?key=next").status_code == 404
    post(admin, f"{PREFIX}/{org}/sso/sp-key", page, action="generate")
    shown = admin.get(page)
    assert b'id="sp-key-next"' in shown.data and b"Activate next key" in shown.data
    upcoming = admin.get(f"{PREFIX}/{org}/sso/sp-certificate.pem?key=next").data
    post(admin, f"{PREFIX}/{org}/sso/sp-key", page, action="activate")
    assert admin.get(f"{PREFIX}/{org}/sso/sp-certificate.pem").data == upcoming
    # A third generate while a next key waits... there is none now; two in a row refuse.
    post(admin, f"{PREFIX}/{org}/sso/sp-key", page, action="generate")
    post(admin, f"{PREFIX}/{org}/sso/sp-key", page, action="generate")
    assert b"already waiting" in admin.get(page).data


def test_options_are_saved_and_refused_without_a_key(app, org, admin):  # noqa: F811
    page = configured(app, org, admin)
    options = f"{PREFIX}/{org}/sso/options"
    post(admin, options, page, sign_requests="y")
    assert b"needs an SP key pair" in admin.get(page).data
    assert connection(app, org).sign_requests is False
    post(admin, f"{PREFIX}/{org}/sso/sp-key", page, action="generate")
    r = post(admin, options, page, sign_requests="y", encrypt_assertions="y", idp_slo_url=SLO)
    assert r.status_code == 302
    made = connection(app, org)
    assert made.sign_requests and made.encrypt_assertions and made.idp_slo_url == SLO
    shown = admin.get(page).data
    assert re.search(rb'<input checked id="sign_requests"', shown)
    assert re.search(rb'<input checked id="encrypt_assertions"', shown)
    # The sign-in link now sends a signed AuthnRequest that the published certificate verifies.
    certificate = admin.get(f"{PREFIX}/{org}/sso/sp-certificate.pem").data.decode()
    started = admin.get(f"/users/sign-in/sso/okta/{made.integration_id}")
    assert read_sp_request(started.headers["Location"], certificate).signature_valid is True
    # Saving the IdP by hand again keeps the Single Logout URL; unticking turns options off.
    post(admin, page, page, sso_url=OKTA_SSO_URL, certificate=IDP_CERT.read_text())
    assert connection(app, org).idp_slo_url == SLO
    post(admin, options, page, idp_slo_url="ftp://nope")
    assert b"must be an http(s) URL" in admin.get(page).data
    post(admin, options, page, idp_slo_url="")
    made = connection(app, org)
    assert not made.sign_requests and not made.encrypt_assertions and made.idp_slo_url is None


def test_a_post_without_the_token_changes_nothing(app, org, admin):  # noqa: F811
    configured(app, org, admin)
    r = admin.post(f"{PREFIX}/{org}/sso/sp-key", data={"action": "generate"})
    assert r.status_code == 400
    assert admin.get(f"{PREFIX}/{org}/sso/sp-certificate.pem").status_code == 404
