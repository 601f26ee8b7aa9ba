"""Linking an existing account: the IdP's refusal page offers it, the person signs in to the
account the usual way and confirms, and only then does the account join the organization."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask

from flask_okta_scim.web import link as link_module
from sample_app import login_manager
from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.saml.test_sso import IDP
from tests.saml.test_sso import connect
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import me
from tests.saml_idp import post_acs

EMAIL = "ann@people.example"


@pytest.fixture
def bravo(app: Flask) -> tuple[int, str]:
    """Bravo, whose Okta vouches for people.example, and Ann's own account (in no org)."""
    org_id, integration_id = connect(app, "Bravo", domain="people.example")
    with app.app_context(), okta.directory().atomic() as directory:
        account, _ = directory.ensure_account(EMAIL, "Ann")
        account.set_password("ann's own")
    return org_id, integration_id


def refused_with_link(app: Flask, client: t.Any, integration_id: str) -> str:
    response = post_acs(client, integration_id, IDP.for_connection(integration_id, EMAIL))
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    found = re.search(r'href="([^"]+/link)"', page)
    assert found, page
    assert me(client).status_code == 401
    return BASE_URL + found.group(1)


def sign_in(client: t.Any, email: str, password: str) -> None:
    response = client.post(f"{BASE_URL}/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def nonce_of(page: str) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def organizations_of(app: Flask, email: str) -> list[str]:
    with app.app_context():
        directory = okta.directory()
        return [o.name for o in directory.organizations_of(directory.find_account(email))]


def test_the_person_links_their_account_by_signing_in_and_confirming(app, bravo):
    client = app.test_client()
    link_url = refused_with_link(app, client, bravo[1])
    first = client.get(link_url)
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    sign_in(client, EMAIL, "ann's own")
    page = client.get(link_url)
    assert page.status_code == 200
    assert "Link your account to Bravo" in page.get_data(as_text=True)
    assert organizations_of(app, EMAIL) == []  # nothing until confirmed
    done = client.post(link_url, data={"nonce": nonce_of(page.get_data(as_text=True))})
    assert done.status_code == 302
    got = me(client).json
    assert got["sso_organization"] == {"id": str(bravo[0]), "name": "Bravo"}
    assert [o["name"] for o in got["organizations"]] == ["Bravo"]
    assert organizations_of(app, EMAIL) == ["Bravo"]
    with app.app_context():
        account = okta.directory().find_account(EMAIL)
        assert account.check_password("ann's own")  # linking changes no credential
    # The link is used up, and the assertion cannot sign in again.
    assert client.post(link_url, data={"nonce": "x"}).status_code == 404
    again = post_acs(app.test_client(), bravo[1], IDP.for_connection(bravo[1], EMAIL))
    assert again.status_code == 302  # a new assertion: Ann is now Bravo's member


def test_a_wrong_confirmation_token_links_nothing(app, bravo):
    client = app.test_client()
    link_url = refused_with_link(app, client, bravo[1])
    sign_in(client, EMAIL, "ann's own")
    client.get(link_url)
    assert client.post(link_url, data={"nonce": "forged"}).status_code == 400
    assert client.post(link_url, data={}).status_code == 400
    assert organizations_of(app, EMAIL) == []


def test_a_sign_in_from_before_the_refusal_is_no_proof(app, bravo):
    client = app.test_client()
    sign_in(client, EMAIL, "ann's own")
    link_url = refused_with_link_keeping_session(client, bravo[1])
    response = client.get(link_url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(link_url, data={"nonce": "x"}).status_code == 302
    assert organizations_of(app, EMAIL) == []


def refused_with_link_keeping_session(client: t.Any, integration_id: str) -> str:
    response = post_acs(client, integration_id, IDP.for_connection(integration_id, EMAIL))
    assert response.status_code == 403
    found = re.search(r'href="([^"]+/link)"', response.get_data(as_text=True))
    assert found
    return BASE_URL + found.group(1)


def test_another_account_signed_in_is_no_proof(app, bravo):
    with app.app_context(), okta.directory().atomic() as directory:
        other, _ = directory.ensure_account("mallory@elsewhere.example")
        other.set_password("mallory's")
    client = app.test_client()
    link_url = refused_with_link(app, client, bravo[1])
    sign_in(client, "mallory@elsewhere.example", "mallory's")
    response = client.get(link_url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert organizations_of(app, EMAIL) == []
    assert organizations_of(app, "mallory@elsewhere.example") == []


def test_another_organizations_okta_is_no_proof(app, bravo):
    """An SSO session of an organization that does not manage the account proves nothing."""
    other_idp = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT)
    charlie_id, charlie = connect(app, "Charlie", certificates=[other_idp.certificate])
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.get_organization(charlie_id)
        directory.add_member(org, directory.find_account(EMAIL))
    client = app.test_client()
    link_url = refused_with_link(app, client, bravo[1])
    assert post_acs(client, charlie, other_idp.for_connection(charlie, EMAIL)).status_code == 302
    # That sign-in replaced the session: the link in progress went with it.
    assert client.get(link_url).status_code == 404
    link_url = refused_with_link_keeping_session(client, bravo[1])
    response = client.get(link_url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert organizations_of(app, EMAIL) == ["Charlie"]


def test_an_expired_link_is_gone(app, bravo, monkeypatch):
    client = app.test_client()
    link_url = refused_with_link(app, client, bravo[1])
    sign_in(client, EMAIL, "ann's own")
    page = client.get(link_url).get_data(as_text=True)
    real = link_module.time.time
    monkeypatch.setattr(link_module.time, "time", lambda: real() + 3600)
    assert client.post(link_url, data={"nonce": nonce_of(page)}).status_code == 404
    assert organizations_of(app, EMAIL) == []


def test_the_rules_of_jit_still_hold_when_confirming(app, bravo):
    client = app.test_client()
    link_url = refused_with_link(app, client, bravo[1])
    sign_in(client, EMAIL, "ann's own")
    page = client.get(link_url).get_data(as_text=True)
    with app.app_context(), okta.directory().atomic() as directory:
        delta = directory.create_organization("Delta")
        directory.verify_domain(delta, "people.example", None, by_operator=True)
    response = client.post(link_url, data={"nonce": nonce_of(page)})
    assert response.status_code == 403
    assert organizations_of(app, EMAIL) == []


def test_no_link_is_offered_without_a_sign_in_page(app, bravo, monkeypatch):
    monkeypatch.setattr(login_manager, "login_view", None)
    response = post_acs(app.test_client(), bravo[1], IDP.for_connection(bravo[1], EMAIL))
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "/link" not in page and "verify your email domain" in page
