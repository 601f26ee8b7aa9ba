"""Positive controls, so that the corpus cannot pass vacuously: Okta-shaped responses
sign in, and python3-saml on its strictest settings accepts the test IdP's responses
and refuses tampered ones.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests.saml.attacks.support import ATTACKER
from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import IMPOSTOR
from tests.saml.attacks.support import VICTIM
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import account_exists
from tests.saml.attacks.support import sso_failures
from tests.saml.attacks.support import sso_successes
from tests.saml.attacks.xml_surgery import edit
from tests.saml.attacks.xml_surgery import set_text
from tests.saml_idp import BASE_URL
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import acs_url
from tests.saml_idp import encode
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import sp_entity_id
from tests.saml_idp import start_login

# -- positive controls: the corpus cannot pass vacuously -----------------------------------------


def test_okta_shaped_sp_initiated_response_signs_in(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    request_id = start_login(browser, acme.integration_id, next="/monitors?team=1")
    xml = acme.response(
        VICTIM,
        in_response_to=request_id,
        attributes={"email": VICTIM, "firstName": "Ada", "lastName": "Lovelace"},
    )
    response = post_acs(browser, acme.integration_id, xml)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] in ("/monitors?team=1", f"{BASE_URL}/monitors?team=1")
    who = me(browser)
    assert who.status_code == 200
    assert who.json["email"] == VICTIM
    assert who.json["sso_organization"]["id"] == str(acme.org_id)
    assert who.json["sso_organization"]["name"] == "Acme"
    assert sso_successes(app, acme.org_id) == 1
    assert sso_failures(app, acme.org_id) == []


def test_okta_shaped_idp_initiated_response_signs_in_by_jit(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    response = post_acs(browser, acme.integration_id, acme.response(ATTACKER))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] in ("/", f"{BASE_URL}/")
    assert me(browser).json["email"] == ATTACKER
    assert account_exists(app, ATTACKER)


@pytest.mark.parametrize("relay_state", ["/dashboard", "/monitors?team=2#top"])
def test_same_origin_relay_state_is_followed(app: Flask, acme: Tenant, relay_state: str) -> None:
    browser = app.test_client()
    response = post_acs(browser, acme.integration_id, acme.response(VICTIM), relay_state)
    assert response.status_code == 302
    assert response.headers["Location"] in (relay_state, BASE_URL + relay_state)
    assert me(browser).status_code == 200


# -- the test IdP itself, checked by python3-saml directly (no app) ----------------------------


def test_the_test_idp_satisfies_python3_saml_in_strict_mode() -> None:
    """Our positive responses are valid for python3-saml on its strictest settings, and
    tampering breaks them: the corpus is made of real signatures."""
    from onelogin.saml2.response import OneLogin_Saml2_Response
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    integration_id = "intTEST"
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": sp_entity_id(integration_id),
                "assertionConsumerService": {"url": acs_url(integration_id)},
            },
            "idp": {
                "entityId": OKTA_ENTITY_ID,
                "singleSignOnService": {"url": OKTA_SSO_URL},
                "x509cert": IDP.certificate_body,
            },
            "security": {
                "wantAssertionsSigned": True,
                "wantMessagesSigned": True,
                "rejectDeprecatedAlgorithm": True,
                "wantAttributeStatement": False,
            },
        },
        sp_validation_only=True,
    )
    path = f"/users/sign-in/sso/okta/{integration_id}/acs"
    request = {"https": "on", "http_host": "app.example.test", "script_name": path}

    def valid(xml: str, request_id: str | None = None) -> bool:
        return bool(OneLogin_Saml2_Response(settings, encode(xml)).is_valid(request, request_id))

    attributes = {"email": VICTIM, "firstName": "Ada", "groups": ["ops", "dev"]}
    good = IDP.for_connection(integration_id, VICTIM, attributes=attributes)
    assert valid(good)
    assert valid(IDP.for_connection(integration_id, VICTIM, in_response_to="idREQ"), "idREQ")
    assert not valid(edit(good, set_text("//saml2:NameID", ATTACKER)))
    assert not valid(IDP.for_connection(integration_id, VICTIM, sign_response=False))
    assert not valid(IDP.for_connection(integration_id, VICTIM, sign_assertion=False))
    assert not valid(IMPOSTOR.for_connection(integration_id, VICTIM))
    assert not valid(IDP.for_connection(integration_id, VICTIM, algorithm="sha1"))
