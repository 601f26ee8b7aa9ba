"""Okta sign-in, the happy paths: SP- and IdP-initiated, JIT, sessions scoped to the vouching
organization, rollover, metadata. Attacks are in tests/saml/attacks/."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from flask_okta_scim import signals
from sample_app.models import Monitor
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.conftest import listen
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import encode
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import start_login

IDP = TestIdP()


def connect(
    app: t.Any, name: str, *, domain: str | None = None, certificates: list[str] | None = None
) -> tuple[int, str]:
    """An organization with a configured connection (and a JIT domain); (org id, integration id)."""
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.create_organization(name)
        connection = directory.connect(org)
        directory.configure_connection(
            connection,
            idp_entity_id=OKTA_ENTITY_ID,
            idp_sso_url=OKTA_SSO_URL,
            certificates=certificates or [IDP.certificate],
        )
        if domain:
            directory.add_team_domain(directory.create_team(org, "Everyone"), domain)
        return org.id, connection.integration_id


@pytest.fixture
def acme(app: t.Any) -> tuple[int, str]:
    return connect(app, "Acme", domain="acme.example")


def test_sp_initiated_sign_in_returns_to_next(app, acme):
    client = app.test_client()
    request_id = start_login(client, acme[1], next="/me")
    with listen(signals.sso_login) as heard:
        r = post_acs(
            client,
            acme[1],
            IDP.for_connection(acme[1], "Ada@ACME.example", in_response_to=request_id),
        )
    assert r.status_code == 302 and r.headers["Location"] == "/me"
    got = me(client).json
    assert got["email"] == "Ada@acme.example"
    assert got["sso_organization"] == {"id": str(acme[0]), "name": "Acme"}
    assert [t["name"] for t in got["organizations"][0]["teams"]] == ["Everyone"]
    assert heard[0][1]["jit"] is True and heard[0][1]["account"].email == "Ada@acme.example"


def test_the_first_sign_in_connects_the_connection(app, acme):
    client = app.test_client()
    post_acs(client, acme[1], IDP.for_connection(acme[1], "ada@acme.example"))
    with app.app_context():
        directory = okta.directory()
        connection = directory.connection_by_integration_id(acme[1])
        assert connection.status == "connected" and connection.connected_at is not None
        token = directory.enable_provisioning(directory.get_organization(acme[0]))
        assert token


def test_idp_initiated_follows_a_same_origin_relay_state(app, acme):
    client = app.test_client()
    r = post_acs(
        client, acme[1], IDP.for_connection(acme[1], "ada@acme.example"), relay_state="/me"
    )
    assert r.status_code == 302 and r.headers["Location"] == "/me"
    assert me(client).status_code == 200


def test_a_member_signs_in_without_jit(app):
    org_id, integration_id = connect(app, "Members only")  # no pre-approved domain
    with app.app_context(), okta.directory().atomic() as directory:
        account, _ = directory.ensure_account("boss@members.example")
        directory.add_member(directory.get_organization(org_id), account, role="admin")
    client = app.test_client()
    with listen(signals.sso_login) as heard:
        post_acs(client, integration_id, IDP.for_connection(integration_id, "BOSS@members.example"))
    assert me(client).json["organizations"][0]["role"] == "admin"
    assert heard[0][1]["jit"] is False


def test_a_disabled_member_is_refused(app):
    """Disabled by the operator while still a member: no sign-in, whatever the IdP says."""
    org_id, integration_id = connect(app, "Members only")
    with app.app_context(), okta.directory().atomic() as directory:
        account, _ = directory.ensure_account("off@members.example")
        directory.add_member(directory.get_organization(org_id), account)
        directory.disable_account(account, reason="operator")
    client = app.test_client()
    r = post_acs(client, integration_id, IDP.for_connection(integration_id, "off@members.example"))
    assert r.status_code >= 400
    assert me(client).status_code == 401


def test_jit_enables_a_disabled_account_on_the_same_id(app, acme):
    """Removed from its last organization and kept; joining again by JIT enables it."""
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.get_organization(acme[0])
        directory.add_domain(org, "acme.example")  # Acme manages the existing account
        directory.verify_domain(org, "acme.example", None, by_operator=True)
        account, _ = directory.ensure_account("back@acme.example")
        directory.disable_account(account)
        kept = account.id
    client = app.test_client()
    with listen(signals.user_enabled) as enabled:
        post_acs(client, acme[1], IDP.for_connection(acme[1], "back@acme.example"))
    assert me(client).json["id"] == str(kept)
    assert len(enabled) == 1


def test_the_email_may_come_from_an_attribute(app, acme):
    client = app.test_client()
    xml = IDP.for_connection(
        acme[1],
        "00u1abcd",
        attributes={"email": "eve@acme.example", "firstName": "Eve", "lastName": "Example"},
    )
    post_acs(client, acme[1], xml)
    got = me(client).json
    assert got["email"] == "eve@acme.example" and got["display_name"] == "Eve Example"


def test_sign_in_starts_a_new_session(app, acme):
    client = app.test_client()
    with client.session_transaction(base_url=BASE_URL) as s:
        s["planted"] = "by an attacker"
    post_acs(client, acme[1], IDP.for_connection(acme[1], "ada@acme.example"))
    with client.session_transaction(base_url=BASE_URL) as s:
        assert "planted" not in s


def test_a_password_sign_in_is_not_vouched_for_by_any_idp(app, acme):
    client = app.test_client()
    post_acs(client, acme[1], IDP.for_connection(acme[1], "ada@acme.example"))
    with app.app_context(), okta.directory().atomic() as directory:
        directory.find_account("ada@acme.example").set_password("pw")
    client.post(f"{BASE_URL}/logout")
    client.post(f"{BASE_URL}/login", data={"email": "ada@acme.example", "password": "pw"})
    got = me(client).json
    assert got["email"] == "ada@acme.example" and got["sso_organization"] is None


def test_org_b_idp_cannot_act_in_org_a_for_a_shared_person(app):
    """Directory rules 3 and 9: B's Okta asserting A's member admits nobody by JIT; once B's
    SCIM attached the person, B's sign-in gives a session scoped to B only."""
    a_id, _ = connect(app, "Alpha")
    other = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT, entity_id=OKTA_ENTITY_ID)
    b_id, b_integration = connect(
        app, "Bravo", domain="alpha.example", certificates=[other.certificate]
    )
    with app.app_context(), okta.directory().atomic() as directory:
        alpha = directory.get_organization(a_id)
        account, _ = directory.ensure_account("ceo@alpha.example")
        account.set_password("the real one")
        directory.add_member(alpha, account, role="admin")
        alpha_team = directory.create_team(alpha, "Alpha Ops", members=[account])
        alpha_team_id = alpha_team.id
    client = app.test_client()
    r = post_acs(client, b_integration, other.for_connection(b_integration, "ceo@alpha.example"))
    assert r.status_code == 403  # B's IdP alone never admits an account B does not manage
    assert me(client).status_code == 401
    with app.app_context():
        directory = okta.directory()
        account = directory.find_account("ceo@alpha.example")
        assert [o.name for o in directory.organizations_of(account)] == ["Alpha"]

    with app.app_context(), okta.directory().atomic() as directory:
        directory.provision(directory.get_organization(b_id), user_name="ceo@alpha.example")
    r = post_acs(client, b_integration, other.for_connection(b_integration, "ceo@alpha.example"))
    assert r.status_code == 302
    got = me(client).json
    assert got["sso_organization"] == {"id": str(b_id), "name": "Bravo"}
    assert [o["name"] for o in got["organizations"]] == ["Bravo"]  # A stays unseen
    r = client.post(
        f"{BASE_URL}/teams/{alpha_team_id}/monitors", data={"name": "x", "url": "https://x"}
    )
    assert r.status_code == 403
    with app.app_context():
        assert db.session.query(Monitor).count() == 0
        account = okta.directory().find_account("ceo@alpha.example")
        assert account.check_password("the real one")  # nothing of A's was touched


def test_certificate_rollover_accepts_both_keys_and_no_third(app):
    other = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT)
    _, integration = connect(
        app, "Rolling", domain="roll.example", certificates=[IDP.certificate, other.certificate]
    )
    for idp, name in ((IDP, "one"), (other, "two")):
        client = app.test_client()
        assert (
            post_acs(
                client, integration, idp.for_connection(integration, f"{name}@roll.example")
            ).status_code
            == 302
        )
    with app.app_context(), okta.directory().atomic() as directory:
        connection = directory.connection_by_integration_id(integration)
        directory.configure_connection(
            connection,
            idp_entity_id=OKTA_ENTITY_ID,
            idp_sso_url=OKTA_SSO_URL,
            certificates=[other.certificate],
        )
    client = app.test_client()
    assert (
        post_acs(
            client, integration, IDP.for_connection(integration, "three@roll.example")
        ).status_code
        == 403
    )


def test_sp_metadata_names_this_connection(app, acme):
    r = app.test_client().get(f"{BASE_URL}/users/sign-in/sso/okta/{acme[1]}/metadata")
    assert r.status_code == 200 and r.mimetype == "application/samlmetadata+xml"
    root = etree.fromstring(r.data)
    entity = f"{BASE_URL}/users/sign-in/sso/okta/{acme[1]}/metadata"
    assert root.get("entityID") == entity
    ns = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}
    sp = root.find("md:SPSSODescriptor", ns)
    assert sp.get("WantAssertionsSigned") == "true"
    assert sp.find("md:AssertionConsumerService", ns).get("Location") == (
        f"{BASE_URL}/users/sign-in/sso/okta/{acme[1]}/acs"
    )


def test_urls_come_from_the_base_url_not_the_host_header(app, acme):
    client = app.test_client()
    r = client.get(
        f"{BASE_URL}/users/sign-in/sso/okta/{acme[1]}/metadata", headers={"Host": "evil.example"}
    )
    assert b"evil.example" not in r.data and BASE_URL.encode() in r.data


def test_a_connection_that_is_not_configured_says_so(app):
    with app.app_context(), okta.directory().atomic() as directory:
        integration = directory.connect(directory.create_organization("Pending")).integration_id
    client = app.test_client()
    r = client.get(f"{BASE_URL}/users/sign-in/sso/okta/{integration}")
    assert r.status_code == 409 and b"not finished setting up" in r.data
    assert client.get(f"{BASE_URL}/users/sign-in/sso/okta/nope").status_code == 404
    assert (
        client.get(f"{BASE_URL}/users/sign-in/sso/okta/{integration}/metadata").status_code == 200
    )


def test_the_binding_cookie_survives_a_cross_site_post(app, acme):
    r = app.test_client().get(f"{BASE_URL}/users/sign-in/sso/okta/{acme[1]}")
    cookie = r.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    # the connection's path: the ACS and later sign-ins (other tabs) see it, nothing else
    assert f"Path=/users/sign-in/sso/okta/{acme[1]};" in cookie + ";"


def test_two_tabs_share_one_browser_binding(app, acme):
    client = app.test_client()
    first = start_login(client, acme[1], next="/first")
    second = start_login(client, acme[1], next="/second")
    r = post_acs(
        client, acme[1], IDP.for_connection(acme[1], "tab@acme.example", in_response_to=first)
    )
    assert r.status_code == 302 and r.headers["Location"] == "/first"
    assert second != first


def test_a_plain_http_base_url_also_sets_a_cookie_http_clients_send(app, acme):
    """Scripted clients (Python's cookie jar, curl) never send Secure cookies over http."""
    from sample_app import create_app

    base = "http://127.0.0.1:5000"
    http_app = create_app({**app.config, "OKTA_SCIM_BASE_URL": base})
    try:
        started = http_app.test_client()
        r = started.get(f"{base}/users/sign-in/sso/okta/{acme[1]}")
        cookies = r.headers.getlist("Set-Cookie")
        secure = [c for c in cookies if c.startswith("okta_scim_sso=")]
        plain = [c for c in cookies if c.startswith("okta_scim_sso_http=")]
        assert len(secure) == 1 and "Secure" in secure[0] and "SameSite=None" in secure[0]
        assert len(plain) == 1 and "Secure" not in plain[0] and "SameSite=Lax" in plain[0]
        query = parse_qs(urlsplit(r.headers["Location"]).query)
        request_xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0])
        request_id = request_xml.split(b'ID="', 1)[1].split(b'"', 1)[0].decode()
        # a client that kept only the non-Secure copy still finishes its sign-in
        client = http_app.test_client()
        client.set_cookie(
            "okta_scim_sso_http",
            plain[0].split(";")[0].split("=", 1)[1],
            domain="127.0.0.1",
            path=f"/users/sign-in/sso/okta/{acme[1]}",
        )
        prefix = f"{base}/users/sign-in/sso/okta/{acme[1]}"
        xml = IDP.response(
            acs=f"{prefix}/acs",
            audience=f"{prefix}/metadata",
            name_id="http@acme.example",
            in_response_to=request_id,
        )
        r = client.post(f"{prefix}/acs", data={"SAMLResponse": encode(xml)})
        assert r.status_code == 302, r.get_data(as_text=True)
    finally:
        with http_app.app_context():
            db.engine.dispose()
