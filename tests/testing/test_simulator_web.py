"""The simulated Okta mounted on an application (issue 13, first part): its metadata link, the
sign-in page answering the application's AuthnRequest, the dashboard tile, all through the
real ACS; never mounted outside debug mode unless forced; no signing for other sites."""

from __future__ import annotations

import re
import typing as t
from html import unescape
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from flask import Flask
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from flask_okta_scim.testing import SimulatedIdP
from flask_okta_scim.testing.web import init_simulator
from sample_app import create_app
from tests.conftest import BASE_URL
from tests.conftest import sample_app_on
from tests.saml_idp import me
from tests.saml_idp import sign_in_url
from tests.testing.test_simulated_idp import organization_trusting

PEOPLE = ["ada@acme.example", "bob@acme.example"]


@pytest.fixture
def simulator() -> SimulatedIdP:
    return SimulatedIdP.generate(sso_url=f"{BASE_URL}/simulated-okta/sso")


@pytest.fixture
def app(database_url: str, backend: str, simulator: SimulatedIdP) -> t.Iterator[Flask]:
    with sample_app_on(database_url, backend) as app:
        init_simulator(app, simulator, people=PEOPLE, force=True)
        yield app


def submit(client: t.Any, page: t.Any) -> t.Any:
    """What the browser does with the auto-submitted form: POST its fields to its action."""
    html = page.get_data(as_text=True)
    action = unescape(re.search(r'<form method="post" action="([^"]+)"', html).group(1))
    fields = {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    }
    return client.post(action, data=fields)


def test_the_metadata_link_configures_a_connection(app, simulator):
    answer = app.test_client().get(f"{BASE_URL}/simulated-okta/metadata")
    assert answer.status_code == 200 and answer.mimetype == "application/samlmetadata+xml"
    assert simulator.certificate_body.encode() in answer.data


def test_sp_initiated_through_the_sign_in_page(app, simulator):
    integration_id = organization_trusting(app, "Acme", simulator)
    browser = app.test_client()
    started = browser.get(sign_in_url(integration_id) + "?" + urlencode({"next": "/me"}))
    location = started.headers["Location"]
    assert location.startswith(f"{BASE_URL}/simulated-okta/sso?")
    page = browser.get(location)
    assert b"Sign in as ada@acme.example" in page.data and b"Simulated Okta" in page.data
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    posted = browser.post(urlsplit(location).path, data={**query, "email": "ada@acme.example"})
    landed = submit(browser, posted)
    assert landed.status_code == 302 and landed.headers["Location"] == "/me"
    assert me(browser).json["email"] == "ada@acme.example"


def test_the_dashboard_tile_signs_in_unsolicited(app, simulator):
    integration_id = organization_trusting(app, "Acme", simulator)
    browser = app.test_client()
    tile = f"{BASE_URL}/simulated-okta/tile/{integration_id}"
    assert b"Okta dashboard tile" in browser.get(tile).data
    landed = submit(browser, browser.post(tile, data={"email": "bob@acme.example"}))
    assert landed.status_code == 302
    assert me(browser).json["email"] == "bob@acme.example"


def test_an_organization_that_does_not_trust_it_refuses_its_tile(app, simulator):
    integration_id = organization_trusting(app, "Globex", SimulatedIdP.generate())
    browser = app.test_client()
    tile = f"{BASE_URL}/simulated-okta/tile/{integration_id}"
    refused = submit(browser, browser.post(tile, data={"email": "eve@globex.example"}))
    assert refused.status_code == 403 and me(browser).status_code == 401


def test_it_answers_only_this_application_s_sign_ins(app):
    authn = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="idX" Version="2.0" '
        'AssertionConsumerServiceURL="https://elsewhere.example/acs">'
        "<saml:Issuer>https://elsewhere.example/metadata</saml:Issuer></samlp:AuthnRequest>"
    )
    request = OneLogin_Saml2_Utils.deflate_and_base64_encode(authn)
    answer = app.test_client().post(
        f"{BASE_URL}/simulated-okta/sso", data={"SAMLRequest": request, "email": "a@b.example"}
    )
    assert answer.status_code == 400
    garbage = app.test_client().get(f"{BASE_URL}/simulated-okta/sso?SAMLRequest=nonsense")
    assert garbage.status_code == 400


def test_it_is_not_mounted_outside_debug_mode(simulator, caplog):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    with pytest.raises(RuntimeError, match="debug mode"):
        init_simulator(app, simulator)
    app.debug = True
    with caplog.at_level("WARNING", logger="flask_okta_scim"):
        init_simulator(app, simulator)
    assert "SIMULATED Okta" in caplog.text
