"""The testing kit's simulated Okta (issue 13, first part): a key of its own, Okta's metadata,
responses that go through the application's real ACS, and no way in for an organization that
does not trust its key."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_okta_scim.saml.metadata import parse_metadata
from flask_okta_scim.testing import SimulatedIdP
from flask_okta_scim.testing.organizations import trust
from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import start_login


@pytest.fixture(scope="module")
def simulator() -> SimulatedIdP:
    return SimulatedIdP.generate(
        entity_id="http://www.okta.com/exkSIMULATED",
        sso_url="https://simulated.okta.example/app/demo/exkSIMULATED/sso/saml",
    )


def organization_trusting(app: Flask, name: str, idp: SimulatedIdP) -> str:
    """An organization whose connection was configured from ``idp``'s metadata, with JIT."""
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.create_organization(name)
        connection = trust(directory, org, idp)
        domain = name.lower() + ".example"
        directory.add_team_domain(directory.create_team(org, "Everyone"), domain)
        return t.cast(str, connection.integration_id)


def test_the_metadata_is_what_the_extension_reads_from_okta(simulator):
    found = parse_metadata(simulator.metadata())
    assert found.entity_id == simulator.entity_id
    assert found.sso_url == simulator.sso_url
    assert found.certificates == [simulator.certificate_body]


def test_each_simulator_has_its_own_key():
    one, two = SimulatedIdP.generate(), SimulatedIdP.generate()
    assert one.certificate_body != two.certificate_body and one.key_pem != two.key_pem


def test_a_simulated_sign_in_goes_through_the_real_acs(app, simulator):
    integration_id = organization_trusting(app, "Acme", simulator)
    browser = app.test_client()
    request_id = start_login(browser, integration_id, next="/me")
    xml = simulator.for_connection(
        integration_id, "ada@acme.example", base_url=BASE_URL, in_response_to=request_id
    )
    answer = post_acs(browser, integration_id, xml)
    assert answer.status_code == 302 and answer.headers["Location"] == "/me"
    assert me(browser).json["email"] == "ada@acme.example"


def test_an_organization_that_does_not_trust_the_simulator_refuses_it(app, simulator):
    """Another organization's Okta (its own key), and a response the simulator signed for it."""
    other = SimulatedIdP.generate(entity_id=simulator.entity_id, sso_url=simulator.sso_url)
    integration_id = organization_trusting(app, "Globex", other)
    browser = app.test_client()
    xml = simulator.for_connection(integration_id, "mallory@globex.example", base_url=BASE_URL)
    answer = post_acs(browser, integration_id, xml)
    assert answer.status_code == 403
    assert me(browser).status_code == 401
    with app.app_context():
        assert okta.directory().find_account("mallory@globex.example") is None
