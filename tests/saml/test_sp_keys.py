"""The SP's key pairs: generated, sealed, rolled over, published; signed AuthnRequests."""

from __future__ import annotations

import json
import typing as t

import pytest
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from sqlalchemy import select

from flask_okta_scim.saml.keys import KeyUnavailable
from flask_okta_scim.saml.keys import KeyVault
from flask_okta_scim.testing.idp_options import read_sp_request
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok
from tests.saml.test_sso import IDP
from tests.saml.test_sso import connect
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import sign_in_url

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


@pytest.fixture
def acme(app: t.Any) -> tuple[int, str]:
    return connect(app, "Acme", domain="acme.example")


def _keys(app: t.Any, org: str) -> list[dict[str, t.Any]]:
    return t.cast(
        list[dict[str, t.Any]], json.loads(okta_cli_ok(app, "sso", "sp-key", "list", org))
    )


def _metadata_certificates(client: t.Any, integration_id: str) -> list[tuple[str, str]]:
    r = client.get(sign_in_url(integration_id) + "/metadata")
    assert r.status_code == 200
    root = etree.fromstring(r.data)
    return [
        (d.get("use"), d.findtext(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate"))
        for d in root.iter(f"{{{MD}}}KeyDescriptor")
    ]


def _body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


def test_generate_prints_the_certificate_and_stores_the_key_sealed(app, acme):
    out = okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    assert out.strip().startswith("-----BEGIN CERTIFICATE-----")
    [key] = _keys(app, str(acme[0]))
    assert key["state"] == "active" and key["scope"] == "connection"
    with app.app_context():
        row = db.session.scalars(select(okta.models.sp_key)).one()
        assert "PRIVATE KEY" not in row.private_key  # sealed, not PEM
        opened = okta.sp_key_vault().open(row.private_key)
        assert opened.startswith("-----BEGIN PRIVATE KEY-----")
        with pytest.raises(KeyUnavailable):
            KeyVault(["another secret entirely"]).open(row.private_key)


def test_metadata_publishes_active_and_next_certificates_and_the_slo_url(app, acme, client):
    assert _metadata_certificates(client, acme[1]) == []
    first = okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    published = _metadata_certificates(client, acme[1])
    assert {use for use, _ in published} == {"signing", "encryption"}
    assert {body for _, body in published} == {_body(first)}
    second = okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    assert {body for _, body in _metadata_certificates(client, acme[1])} == {
        _body(first),
        _body(second),
    }
    okta_cli_ok(app, "sso", "sp-key", "activate", str(acme[0]))
    states = {k["state"] for k in _keys(app, str(acme[0]))}
    assert states == {"active", "retired"}
    # The retired key is no longer published; the new active one is.
    assert {body for _, body in _metadata_certificates(client, acme[1])} == {_body(second)}
    root = etree.fromstring(client.get(sign_in_url(acme[1]) + "/metadata").data)
    [slo] = root.iter(f"{{{MD}}}SingleLogoutService")
    assert slo.get("Location") == sign_in_url(acme[1]) + "/slo"
    assert slo.get("Binding") == C.BINDING_HTTP_REDIRECT
    assert b"PRIVATE" not in client.get(sign_in_url(acme[1]) + "/metadata").data


def test_one_next_key_at_a_time_and_the_active_key_cannot_be_removed(app, acme):
    okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    r = okta_cli(app, "sso", "sp-key", "generate", str(acme[0]))
    assert r.exit_code == 1 and "next SP key is already waiting" in r.output
    keys = {k["state"]: k["id"] for k in _keys(app, str(acme[0]))}
    r = okta_cli(app, "sso", "sp-key", "remove", str(acme[0]), str(keys["active"]))
    assert r.exit_code == 1 and "active SP key" in r.output
    okta_cli_ok(app, "sso", "sp-key", "remove", str(acme[0]), str(keys["next"]))
    assert [k["state"] for k in _keys(app, str(acme[0]))] == ["active"]
    r = okta_cli(app, "sso", "sp-key", "activate", str(acme[0]))
    assert r.exit_code == 1 and "no next SP key" in r.output


def test_application_keys_serve_connections_without_their_own(app, acme):
    other = connect(app, "Globex", domain="globex.example")
    r = okta_cli(app, "sso", "sp-key", "generate")
    assert r.exit_code != 0 and "ORG, or --app" in r.output
    okta_cli_ok(app, "sso", "sp-key", "generate", "--app")
    assert [k["scope"] for k in _keys(app, str(acme[0]))] == ["application"]
    okta_cli_ok(app, "sso", "sp-key", "generate", str(other[0]))
    assert [k["scope"] for k in _keys(app, str(other[0]))] == ["connection"]
    assert [k["scope"] for k in _keys(app, str(acme[0]))] == ["application"]


def test_options_need_a_key(app, acme):
    for option in ("signed-requests", "encrypted-assertions"):
        r = okta_cli(app, "sso", option, str(acme[0]), "on")
        assert r.exit_code == 1 and "needs an SP key pair" in r.output
    okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    okta_cli_ok(app, "sso", "signed-requests", str(acme[0]), "on")
    shown = json.loads(okta_cli_ok(app, "sso", "show", str(acme[0])))
    assert shown["sign_requests"] is True and shown["encrypt_assertions"] is False
    assert shown["slo_url"] == sign_in_url(acme[1]) + "/slo"
    assert [k["state"] for k in shown["sp_keys"]] == ["active"]
    with app.app_context():
        d = okta.directory()
        actions = [a.action for a in d.audit_log(d.get_organization(acme[0]), kind="sso")]
    assert "sso.sp_key_generate" in actions and "sso.signed_requests" in actions


def test_signed_authn_request_verifies_with_the_published_certificate(app, acme, client):
    certificate = okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    r = client.get(sign_in_url(acme[1]))
    unsigned = read_sp_request(r.headers["Location"], certificate)
    assert unsigned.signature_valid is None and unsigned.sig_alg is None
    okta_cli_ok(app, "sso", "signed-requests", str(acme[0]), "on")
    r = client.get(sign_in_url(acme[1]) + "?next=/me")
    assert r.status_code == 302 and r.headers["Location"].startswith(OKTA_SSO_URL + "?")
    sent = read_sp_request(r.headers["Location"], certificate)
    assert sent.sig_alg == C.RSA_SHA256 and sent.signature_valid is True
    assert sent.relay_state is None
    # Another key does not verify it: the signature is really over this request.
    assert read_sp_request(r.headers["Location"], IDP.certificate).signature_valid is False
    # And the sign-in it started completes.
    response = IDP.for_connection(acme[1], "ada@acme.example", in_response_to=sent.id)
    assert post_acs(client, acme[1], response).headers["Location"] == "/me"
    assert me(client).json["email"] == "ada@acme.example"


def test_rollover_signs_with_the_new_key_after_activation(app, acme, client):
    old = okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    okta_cli_ok(app, "sso", "signed-requests", str(acme[0]), "on")
    new = okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    url = client.get(sign_in_url(acme[1])).headers["Location"]
    assert read_sp_request(url, old).signature_valid is True
    okta_cli_ok(app, "sso", "sp-key", "activate", str(acme[0]))
    url = client.get(sign_in_url(acme[1])).headers["Location"]
    assert read_sp_request(url, new).signature_valid is True
    assert read_sp_request(url, old).signature_valid is False


def test_a_key_the_secrets_cannot_open_fails_the_sign_in_clearly(app, acme, client):
    okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    okta_cli_ok(app, "sso", "signed-requests", str(acme[0]), "on")
    app.config["SECRET_KEY"] = "a different secret key, so the vault changes"
    r = client.get(sign_in_url(acme[1]))
    assert r.status_code == 503
    assert b"cannot sign its sign-in requests" in r.data


FIRST, SECOND = "first secret for tests", "second secret for tests"


@pytest.mark.app_config(OKTA_SCIM_SP_KEY_SECRETS=[FIRST])
def test_keys_are_sealed_with_the_configured_secret_and_resealed_after_rotation(app, acme):
    okta_cli_ok(app, "sso", "sp-key", "generate", str(acme[0]))
    with app.app_context():
        sealed = db.session.scalars(select(okta.models.sp_key)).one().private_key
    KeyVault([FIRST]).open(sealed)  # the configured secret, not SECRET_KEY
    with pytest.raises(KeyUnavailable):
        KeyVault([app.config["SECRET_KEY"]]).open(sealed)
    assert "Resealed 1" in okta_cli(app, "sso", "sp-key", "reseal").stderr
    # Rotation: a new secret first, the old one kept; resealing moves every key to it.
    with app.app_context(), okta.directory().atomic() as directory:
        assert directory.reseal_sp_keys(KeyVault([SECOND, FIRST])) == 1
    with app.app_context():
        resealed = db.session.scalars(select(okta.models.sp_key)).one().private_key
    assert KeyVault([SECOND]).open(resealed).startswith("-----BEGIN PRIVATE KEY-----")
    with pytest.raises(KeyUnavailable):
        KeyVault([FIRST]).open(resealed)
