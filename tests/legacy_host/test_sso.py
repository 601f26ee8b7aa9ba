"""Okta sign-in into the legacy host: signed SAML responses posted to the ACS.

The connection is set up with ``flask okta-scim`` on the pre-existing company, as an
operator would. A pre-existing person signs in as her own ``users`` row; a new person
admitted just in time lands in the host's ``memberships`` and ``group_memberships``.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import BASE_URL
from tests.conftest import okta_cli_ok
from tests.legacy_host.app import Group
from tests.legacy_host.app import db
from tests.legacy_host.conftest import ALICE_PASSWORD
from tests.legacy_host.conftest import BOB_PASSWORD
from tests.legacy_host.conftest import NOW
from tests.legacy_host.conftest import Legacy
from tests.legacy_host.conftest import execute
from tests.legacy_host.conftest import group_members
from tests.legacy_host.conftest import memberships
from tests.legacy_host.conftest import scalar
from tests.legacy_host.conftest import sign_in
from tests.legacy_host.conftest import sql
from tests.legacy_host.conftest import whoami
from tests.saml_idp import IDP_CERT
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import TestIdP
from tests.saml_idp import post_acs
from tests.saml_idp import start_login

IDP = TestIdP()


def connect_okta(app: Flask, company_id: int) -> str:
    """``flask okta-scim sso connect`` and ``sso configure`` for a company; its integration id."""
    integration_id = okta_cli_ok(app, "sso", "connect", str(company_id)).strip()
    okta_cli_ok(
        app,
        "sso",
        "configure",
        str(company_id),
        "--sso-url",
        OKTA_SSO_URL,
        "--entity-id",
        OKTA_ENTITY_ID,
        "--certificate",
        str(IDP_CERT),
    )
    return integration_id


@pytest.fixture
def acme_sso(legacy_app: Flask, legacy: Legacy) -> str:
    return connect_okta(legacy_app, legacy.acme)


def test_a_pre_existing_person_signs_in_as_her_own_user(legacy_app, legacy, acme_sso):
    client = legacy_app.test_client()
    r = post_acs(client, acme_sso, IDP.for_connection(acme_sso, "Alice@ACME.test"))
    assert r.status_code == 302, r.get_data(as_text=True)
    got = whoami(client).get_json()
    assert got == {
        "id": legacy.alice,
        "email": "alice@acme.test",
        "companies": {"Acme": "owner"},
        "groups": ["Engineering"],
    }
    # Nothing was created or rewritten: the same row, role, group and password.
    assert scalar(legacy_app, "SELECT count(*) FROM users") == 3
    assert memberships(legacy_app, legacy.acme) == {
        "alice@acme.test": "owner",
        "bob@acme.test": "member",
    }
    assert group_members(legacy_app, legacy.engineering) == ["alice@acme.test"]
    client.post(f"{BASE_URL}/logout")
    assert whoami(client).status_code == 401
    r = sign_in(client, "alice@acme.test", ALICE_PASSWORD)
    assert r.status_code == 200 and r.get_json() == {"id": legacy.alice}
    assert whoami(client).get_json()["id"] == legacy.alice


def test_sp_initiated_sign_in_returns_to_the_hosts_page(legacy_app, legacy, acme_sso):
    client = legacy_app.test_client()
    request_id = start_login(client, acme_sso, next="/whoami")
    xml = IDP.for_connection(acme_sso, "bob@acme.test", in_response_to=request_id)
    r = post_acs(client, acme_sso, xml)
    assert r.status_code == 302 and r.headers["Location"] == "/whoami"
    assert whoami(client).get_json()["id"] == legacy.bob


def test_jit_admits_a_new_person_into_the_hosts_tables(legacy_app, legacy, acme_sso):
    """The pre-existing group Engineering pre-approves acme.test (``team add-domain``)."""
    okta_cli_ok(legacy_app, "team", "add-domain", str(legacy.acme), "Engineering", "acme.test")
    client = legacy_app.test_client()
    xml = IDP.for_connection(
        acme_sso,
        "00u1carol",
        attributes={"email": "Carol@acme.test", "firstName": "Carol", "lastName": "Cole"},
    )
    r = post_acs(client, acme_sso, xml)
    assert r.status_code == 302, r.get_data(as_text=True)
    carol = sql(
        legacy_app,
        "SELECT id, full_name, pw_hash, deactivated_at FROM users WHERE email_address = :e",
        e="Carol@acme.test",
    )
    assert len(carol) == 1
    carol_id, full_name, pw_hash, deactivated_at = carol[0]
    assert (full_name, pw_hash, deactivated_at) == ("Carol Cole", None, None)
    assert memberships(legacy_app, legacy.acme)["Carol@acme.test"] == "member"
    assert group_members(legacy_app, legacy.engineering) == ["Carol@acme.test", "alice@acme.test"]
    assert sql(
        legacy_app,
        "SELECT account_id, role FROM memberships WHERE user_id = :u",
        u=carol_id,
    ) == [(legacy.acme, "member")]
    assert whoami(client).get_json() == {
        "id": carol_id,
        "email": "Carol@acme.test",
        "companies": {"Acme": "member"},
        "groups": ["Engineering"],
    }
    with legacy_app.app_context():  # the host's own relationship sees the extension's writes
        engineering = db.session.get_one(Group, legacy.engineering)
        assert [u.id for u in engineering.members] == [legacy.alice, carol_id]


def test_no_row_for_a_person_jit_refuses(legacy_app, legacy, acme_sso):
    """No team pre-approves globex.test: Acme's Okta cannot bring gina into Acme."""
    okta_cli_ok(legacy_app, "team", "add-domain", str(legacy.acme), "Engineering", "acme.test")
    client = legacy_app.test_client()
    r = post_acs(client, acme_sso, IDP.for_connection(acme_sso, "gina@globex.test"))
    assert r.status_code == 403
    assert whoami(client).status_code == 401
    assert sql(
        legacy_app, "SELECT account_id FROM memberships WHERE user_id = :u", u=legacy.gina
    ) == [(legacy.globex,)]


def test_the_hosts_own_deactivated_at_ends_sessions_and_refuses_okta(legacy_app, legacy, acme_sso):
    """``deactivated_at`` is the host's column too: set by the host's own admin page (plain
    SQL here), it ends bob's running session and keeps him out of the SSO sign-in."""
    browser = legacy_app.test_client()
    assert sign_in(browser, "bob@acme.test", BOB_PASSWORD).status_code == 200
    assert whoami(browser).status_code == 200
    execute(legacy_app, "UPDATE users SET deactivated_at = :t WHERE id = :u", t=NOW, u=legacy.bob)
    assert whoami(browser).status_code == 401
    r = post_acs(browser, acme_sso, IDP.for_connection(acme_sso, "bob@acme.test"))
    assert r.status_code == 403
    assert whoami(browser).status_code == 401
    assert memberships(legacy_app, legacy.acme)["bob@acme.test"] == "member"  # nothing changed


def test_the_host_removing_a_membership_ends_the_okta_session(legacy_app, legacy, acme_sso):
    """The session's vouching company is checked against the host's ``memberships``."""
    browser = legacy_app.test_client()
    post_acs(browser, acme_sso, IDP.for_connection(acme_sso, "alice@acme.test"))
    assert whoami(browser).status_code == 200
    execute(legacy_app, "DELETE FROM group_memberships WHERE user_id = :u", u=legacy.alice)
    execute(legacy_app, "DELETE FROM memberships WHERE user_id = :u", u=legacy.alice)
    assert whoami(browser).status_code == 401
