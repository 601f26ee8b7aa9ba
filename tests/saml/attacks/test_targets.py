"""Where, and as whom, a sign-in lands: off-site RelayState and next paths, NameID comment
injection, JIT limits, unknown and pending connections, and another organization's IdP
(SPEC §2 rule 9).
"""

from __future__ import annotations

import pytest
from flask import Flask

from sample_app.models import okta
from tests.saml.attacks.support import GLOBEX_IDP
from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import VICTIM
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import account_exists
from tests.saml.attacks.support import assert_refused
from tests.saml.attacks.support import make_tenant
from tests.saml.attacks.support import sso_failures
from tests.saml.attacks.support import sso_successes
from tests.saml_idp import BASE_URL
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import start_login

# -- open redirect -------------------------------------------------------------------------------

OFF_SITE = [
    "https://evil.example",
    "https://evil.example/phish",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http:evil.example",
    " //evil.example",
    "/\t/evil.example",
    f"{BASE_URL}.evil.example/",
]


@pytest.mark.parametrize("relay_state", OFF_SITE, ids=repr)
def test_off_site_relay_state_redirects_home(app: Flask, acme: Tenant, relay_state: str) -> None:
    browser = app.test_client()
    response = post_acs(browser, acme.integration_id, acme.response(VICTIM), relay_state)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] in ("/", f"{BASE_URL}/")
    assert me(browser).status_code == 200


@pytest.mark.parametrize("next_path", ["https://evil.example", "//evil.example", "/\\evil.example"])
def test_off_site_next_redirects_home(app: Flask, acme: Tenant, next_path: str) -> None:
    browser = app.test_client()
    request_id = start_login(browser, acme.integration_id, next=next_path)
    xml = acme.response(VICTIM, in_response_to=request_id)
    # An attacker's RelayState cannot override the stored next path either.
    response = post_acs(browser, acme.integration_id, xml, "https://evil.example")
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", f"{BASE_URL}/")


# -- NameID comment injection (CVE-2017-11427 family) ---------------------------------------------

SIGNED_NAME = "ada@example.com.evil.com"
INJECTED = "ada@example.com<!---->.evil.com"


def _comment_injected(tenant: Tenant) -> str:
    signed = tenant.response(SIGNED_NAME)
    injected = signed.replace(f">{SIGNED_NAME}</saml2:NameID>", f">{INJECTED}</saml2:NameID>")
    assert injected != signed
    return injected


def test_comment_in_nameid_signs_in_the_full_signed_value(app: Flask) -> None:
    # Ada is a member of Acme; the attacker's own domain is pre-approved for JIT.
    acme = make_tenant(
        app, "Acme", IDP, domains=("example.com.evil.com",), members=("ada@example.com",)
    )
    browser = app.test_client()
    response = post_acs(browser, acme.integration_id, _comment_injected(acme))
    assert response.status_code == 302, response.get_data(as_text=True)
    who = me(browser)
    assert who.status_code == 200
    # The whole signed value, not the text before the comment.
    assert who.json["email"].lower() != "ada@example.com"
    assert who.json["email"].lower() == SIGNED_NAME


def test_comment_in_nameid_never_signs_in_the_truncated_name(app: Flask) -> None:
    # No team pre-approves the full value's domain: nobody at all may be signed in.
    acme = make_tenant(app, "Acme", IDP, domains=("example.com",), members=("ada@example.com",))
    browser = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(browser, acme.integration_id, _comment_injected(acme))
    assert_refused(app, browser, response, 403, acme.org_id, before)
    assert not account_exists(app, SIGNED_NAME)


# -- JIT -------------------------------------------------------------------------------------------


def test_jit_for_a_domain_no_team_pre_approves_is_refused(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(browser, acme.integration_id, acme.response("mallory@elsewhere.example"))
    assert_refused(app, browser, response, 403, acme.org_id, before)
    assert "admin" in response.get_data(as_text=True).lower()
    assert not account_exists(app, "mallory@elsewhere.example")


def test_jit_never_readmits_a_person_scim_deactivated(app: Flask, acme: Tenant) -> None:
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        org = d.get_organization(acme.org_id)
        identity, _ = d.provision(org, user_name="ben@acme.example")
        d.deactivate(identity)

    def kept_out() -> bool:
        """Ben's account is kept (the default removal policy), disabled, in no organization."""
        with app.app_context():
            d = okta.directory()
            account = d.find_account("ben@acme.example")
            return d.is_disabled(account) and d.organizations_of(account) == []

    assert kept_out()
    browser = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(browser, acme.integration_id, acme.response("ben@acme.example"))
    assert_refused(app, browser, response, 403, acme.org_id, before)
    assert kept_out()


# -- connections -----------------------------------------------------------------------------------


def test_unknown_integration_id_is_404(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    assert browser.get(f"{BASE_URL}/users/sign-in/sso/okta/nope").status_code == 404
    xml = IDP.for_connection("nope", VICTIM)
    response = post_acs(browser, "nope", xml)
    assert response.status_code == 404
    assert me(browser).status_code == 401


def test_pending_connection_signs_nobody_in(app: Flask) -> None:
    pending = make_tenant(app, "Pending", IDP, configure=False)
    browser = app.test_client()
    start = browser.get(f"{BASE_URL}/users/sign-in/sso/okta/{pending.integration_id}")
    assert start.status_code != 302 or not start.headers["Location"].startswith(OKTA_SSO_URL)
    response = post_acs(browser, pending.integration_id, pending.response(VICTIM))
    assert response.status_code in (400, 403, 404, 409)
    assert "Traceback" not in response.get_data(as_text=True)
    assert me(browser).status_code == 401


# -- rule 9: another organization's IdP --------------------------------------------------------


def test_other_orgs_idp_asserting_a_member_of_acme_admits_nobody(app: Flask, acme: Tenant) -> None:
    # Globex's admin pre-approves acme.example and makes their Okta assert Ada's email.
    globex = make_tenant(app, "Globex", GLOBEX_IDP, domains=("acme.example",), members=())
    browser = app.test_client()
    before = len(sso_failures(app, globex.org_id))
    response = post_acs(browser, globex.integration_id, globex.response(VICTIM))
    # Ada's account is not Globex's to admit: JIT refuses, nobody is signed in.
    assert_refused(app, browser, response, 403, globex.org_id, before)
    # Nothing is recorded against Acme: its IdP vouched for nothing.
    assert sso_successes(app, acme.org_id) == 0

    # Globex's Okta cannot speak for Acme: addressed to Acme, naming Acme's IdP, refused.
    thief = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(
        thief,
        acme.integration_id,
        globex.idp.for_connection(acme.integration_id, VICTIM, issuer=OKTA_ENTITY_ID),
    )
    assert_refused(app, thief, response, 403, acme.org_id, before)
