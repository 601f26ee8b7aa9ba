"""Encrypted assertions (Okta's Assertion Encryption): decrypted with the SP key, else refused."""

from __future__ import annotations

import typing as t

import pytest
from lxml import etree

from flask_okta_scim.testing.idp import NS_SAML
from flask_okta_scim.testing.idp import qname
from sample_app.models import okta
from tests.conftest import okta_cli_ok
from tests.saml.test_sso import IDP
from tests.saml.test_sso import connect
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import start_login

XENC = "http://www.w3.org/2001/04/xmlenc#"


@pytest.fixture
def acme(app: t.Any) -> tuple[int, str, str]:
    """A connection with an active SP key: (org id, integration id, SP certificate)."""
    org_id, integration_id = connect(app, "Acme", domain="acme.example")
    certificate = okta_cli_ok(app, "sso", "sp-key", "generate", str(org_id))
    return org_id, integration_id, certificate


def _refusal(app: t.Any, org_id: int) -> str:
    with app.app_context():
        d = okta.directory()
        [row] = d.audit_log(d.get_organization(org_id), kind="sso.login", limit=1)
        return str(row.detail.get("reason"))


@pytest.mark.parametrize("cipher", ["aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"])
def test_an_encrypted_assertion_signs_in(app, acme, cipher):
    okta_cli_ok(app, "sso", "encrypted-assertions", str(acme[0]), "on")
    client = app.test_client()
    request_id = start_login(client, acme[1], next="/me")
    xml = IDP.for_connection(
        acme[1],
        "ada@acme.example",
        in_response_to=request_id,
        encrypt_for=acme[2],
        encryption={"cipher": cipher},
    )
    assert b"EncryptedAssertion" in xml.encode() and b"ada@acme.example" not in xml.encode()
    r = post_acs(client, acme[1], xml)
    assert r.status_code == 302 and r.headers["Location"] == "/me", r.data
    assert me(client).json["email"] == "ada@acme.example"


def test_an_encrypted_assertion_is_accepted_without_the_requirement(app, acme):
    client = app.test_client()
    xml = IDP.for_connection(acme[1], "ada@acme.example", encrypt_for=acme[2])
    assert post_acs(client, acme[1], xml).status_code == 302
    assert me(client).json["email"] == "ada@acme.example"


def test_a_plain_assertion_is_refused_when_encryption_is_required(app, acme):
    okta_cli_ok(app, "sso", "encrypted-assertions", str(acme[0]), "on")
    client = app.test_client()
    r = post_acs(client, acme[1], IDP.for_connection(acme[1], "ada@acme.example"))
    assert r.status_code == 403 and me(client).status_code == 401
    assert "not encrypted" in _refusal(app, acme[0])


def test_an_assertion_encrypted_for_another_sp_key_is_refused(app, acme):
    other = okta_cli_ok(app, "sso", "sp-key", "generate", "--app")  # not this connection's
    client = app.test_client()
    r = post_acs(
        client, acme[1], IDP.for_connection(acme[1], "ada@acme.example", encrypt_for=other)
    )
    assert r.status_code == 403 and me(client).status_code == 401
    assert "not this connection's SP key" in _refusal(app, acme[0])
    # Without the certificate named, every key is tried, and none opens it.
    xml = IDP.for_connection(
        acme[1], "ada@acme.example", encrypt_for=other, encryption={"name_certificate": False}
    )
    assert post_acs(client, acme[1], xml).status_code == 403
    assert "cannot be decrypted" in _refusal(app, acme[0])


def test_an_encrypted_assertion_without_an_sp_key_is_refused_clearly(app):
    org_id, integration_id = connect(app, "Initech", domain="initech.example")
    stranger = okta_cli_ok(app, "sso", "sp-key", "generate", str(connect(app, "Globex")[0]))
    client = app.test_client()
    xml = IDP.for_connection(integration_id, "p@initech.example", encrypt_for=stranger)
    assert post_acs(client, integration_id, xml).status_code == 403
    assert "has no SP key pair" in _refusal(app, org_id)


def test_a_retired_key_still_decrypts_during_a_rollover(app, acme):
    okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    okta_cli_ok(app, "sso", "sp-key", "activate", str(acme[0]))  # acme[2] is now retired
    client = app.test_client()
    xml = IDP.for_connection(acme[1], "ada@acme.example", encrypt_for=acme[2])
    assert post_acs(client, acme[1], xml).status_code == 302


def test_rsa_1_5_key_transport_is_refused(app, acme):
    client = app.test_client()
    xml = IDP.for_connection(
        acme[1], "ada@acme.example", encrypt_for=acme[2], encryption={"transport": "rsa-1_5"}
    )
    assert post_acs(client, acme[1], xml).status_code == 400
    assert "rsa-1_5" in _refusal(app, acme[0])


def test_nothing_is_decrypted_before_the_response_signature_verifies(app, acme, monkeypatch):
    """A Response signed by someone else never reaches the private key."""
    from flask_okta_scim.saml import service

    opened: list[str] = []
    original = service.decrypt_assertion
    monkeypatch.setattr(service, "decrypt_assertion", lambda *a: opened.append("x") or original(*a))
    impostor = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT)
    client = app.test_client()
    xml = impostor.for_connection(acme[1], "ada@acme.example", encrypt_for=acme[2])
    assert post_acs(client, acme[1], xml).status_code == 403
    # Its signature names a certificate this connection lacks: the refusal says so.
    assert opened == [] and "this connection does not have" in _refusal(app, acme[0])
    # An unsigned Response likewise.
    xml = IDP.for_connection(acme[1], "ada@acme.example", encrypt_for=acme[2], sign_response=False)
    assert post_acs(client, acme[1], xml).status_code == 403 and opened == []
    assert "not signed by the IdP" in _refusal(app, acme[0])


def test_the_decrypted_assertion_must_be_signed_by_the_idp(app, acme):
    client = app.test_client()
    xml = IDP.for_connection(acme[1], "ada@acme.example", encrypt_for=acme[2], sign_assertion=False)
    assert post_acs(client, acme[1], xml).status_code == 403
    assert me(client).status_code == 401


def _tamper(xml: str, edit: t.Callable[[etree._Element], None]) -> str:
    root = etree.fromstring(xml.encode())
    edit(root.find(qname(NS_SAML, "EncryptedAssertion")))
    return IDP.sign_element(etree.tostring(root))  # re-signed: the IdP's own odd message


@pytest.mark.parametrize(
    "edit, reason",
    [
        (
            lambda e: e.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData").append(
                etree.Element(f"{{{XENC}}}CipherReference", URI="http://169.254.169.254/")
            ),
            "CipherReference",
        ),
        (
            lambda e: e.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}EncryptionMethod").set(
                "Algorithm", "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"
            ),
            "tripledes",
        ),
        (lambda e: e.append(etree.Element(f"{{{XENC}}}EncryptedKey")), "exactly one"),
    ],
)
def test_unsafe_encrypted_shapes_are_refused_before_decryption(app, acme, edit, reason):
    xml = _tamper(IDP.for_connection(acme[1], "ada@acme.example", encrypt_for=acme[2]), edit)
    client = app.test_client()
    assert post_acs(client, acme[1], xml).status_code == 400
    assert reason in _refusal(app, acme[0])


def test_an_encrypted_element_that_is_no_saml_assertion_is_refused(app, acme):
    """The IdP-signed Response carries, encrypted, an element named Assertion in another
    namespace: it is refused before python3-saml looks at it."""
    from flask_okta_scim.testing.idp_options import encrypt_assertion

    xml = IDP.for_connection(acme[1], "ada@acme.example", sign_response=False)
    root = etree.fromstring(xml.encode())
    real = root.find(qname(NS_SAML, "Assertion"))
    impostor = etree.fromstring(etree.tostring(real).replace(NS_SAML.encode(), b"urn:not:saml"))
    root.replace(real, impostor)
    encrypt_assertion(impostor, acme[2])
    signed = IDP.sign_element(etree.tostring(root))
    client = app.test_client()
    assert post_acs(client, acme[1], signed).status_code == 400
    assert "not a SAML Assertion" in _refusal(app, acme[0])
