"""Single logout: SP-initiated through Okta, IdP-initiated ending sessions on every process,
and every message checked as strictly as a sign-in (attacks at the end)."""

from __future__ import annotations

import base64
import typing as t
import zlib
from urllib.parse import parse_qsl
from urllib.parse import quote_plus
from urllib.parse import urlsplit

import pytest
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from flask_okta_scim import signals
from flask_okta_scim.testing.idp_options import logout_request
from flask_okta_scim.testing.idp_options import logout_response
from flask_okta_scim.testing.idp_options import post_form
from flask_okta_scim.testing.idp_options import read_sp_request
from flask_okta_scim.testing.idp_options import redirect_query
from sample_app import create_app
from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.conftest import listen
from tests.conftest import okta_cli_ok
from tests.saml.test_sso import IDP
from tests.saml.test_sso import connect
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import sign_in_url
from tests.saml_idp import start_login

OKTA_SLO_URL = "https://acme.okta.example/app/x/exkTEST/slo/saml"
GLOBEX_IDP = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT, entity_id="http://www.okta.com/exkGLOBEX")


class Tenant(t.NamedTuple):
    org_id: int
    integration_id: str
    sp_certificate: str
    idp: TestIdP

    @property
    def slo(self) -> str:
        return sign_in_url(self.integration_id) + "/slo"


def _tenant(app: t.Any, name: str, domain: str, idp: TestIdP) -> Tenant:
    org_id, integration_id = connect(app, name, domain=domain, certificates=[idp.certificate])
    with app.app_context(), okta.directory().atomic() as directory:
        connection = directory.connection_by_integration_id(integration_id)
        directory.configure_connection(
            connection,
            idp_entity_id=idp.entity_id,
            idp_sso_url=OKTA_SSO_URL,
            certificates=[idp.certificate],
            idp_slo_url=OKTA_SLO_URL,
        )
    certificate = okta_cli_ok(app, "sso", "sp-key", "generate", str(org_id))
    return Tenant(org_id, integration_id, certificate, idp)


@pytest.fixture
def acme(app: t.Any) -> Tenant:
    return _tenant(app, "Acme", "acme.example", IDP)


@pytest.fixture
def globex(app: t.Any) -> Tenant:
    return _tenant(app, "Globex", "globex.example", GLOBEX_IDP)


def sign_in(
    app: t.Any, tenant: Tenant, email: str, session_index: str, client: t.Any = None
) -> t.Any:
    client = client or app.test_client()
    request_id = start_login(client, tenant.integration_id)
    xml = tenant.idp.for_connection(
        tenant.integration_id, email, in_response_to=request_id, session_index=session_index
    )
    assert post_acs(client, tenant.integration_id, xml).status_code == 302
    assert me(client).status_code == 200
    return client


def idp_logout(client: t.Any, tenant: Tenant, email: str, *indexes: str, **kw: t.Any) -> t.Any:
    """The IdP's LogoutRequest for ``email`` on the Redirect binding, signed by ``tenant.idp``."""
    xml = logout_request(
        tenant.idp, destination=tenant.slo, name_id=email, session_indexes=indexes, **kw
    )
    return client.get(tenant.slo + "?" + redirect_query(tenant.idp, xml, param="SAMLRequest"))


# -- SP-initiated ----------------------------------------------------------------------------


def test_sp_initiated_logout_goes_to_okta_signed_and_comes_back(app, acme):
    client = sign_in(app, acme, "ada@acme.example", "s-1")
    r = client.post(f"{BASE_URL}/logout")
    assert r.status_code == 302 and r.headers["Location"].startswith(OKTA_SLO_URL + "?")
    assert me(client).status_code == 401  # signed out here before Okta answers
    sent = read_sp_request(r.headers["Location"], acme.sp_certificate)
    assert sent.signature_valid is True and sent.sig_alg == C.RSA_SHA256
    assert sent.xml.tag == f"{{{C.NS_SAMLP}}}LogoutRequest"
    assert sent.xml.findtext(f"{{{C.NS_SAML}}}NameID") == "ada@acme.example"
    assert sent.xml.findtext(f"{{{C.NS_SAMLP}}}SessionIndex") == "s-1"
    assert sent.xml.get("Destination") == OKTA_SLO_URL
    answer = logout_response(IDP, destination=acme.slo, in_response_to=sent.id)
    back = client.post(acme.slo, data={"SAMLResponse": post_form(IDP, answer)})
    assert back.status_code == 302 and back.headers["Location"] == "/"
    # The same answer again is a replay; an answer to nothing this browser sent is refused.
    assert client.post(acme.slo, data={"SAMLResponse": post_form(IDP, answer)}).status_code == 403
    other = logout_response(IDP, destination=acme.slo, in_response_to=sent.id)
    stranger = app.test_client()
    assert stranger.post(acme.slo, data={"SAMLResponse": post_form(IDP, other)}).status_code == 403


def test_a_failed_logout_at_okta_still_signs_out_here(app, acme):
    client = sign_in(app, acme, "ada@acme.example", "s-1")
    sent = read_sp_request(client.post(f"{BASE_URL}/logout").headers["Location"])
    answer = logout_response(
        IDP, destination=acme.slo, in_response_to=sent.id, status=C.STATUS_RESPONDER
    )
    query = redirect_query(IDP, answer, param="SAMLResponse")
    r = client.get(acme.slo + "?" + query)
    assert r.status_code == 200 and b"Signed out here" in r.data
    assert me(client).status_code == 401


def test_without_an_idp_slo_url_or_an_sp_key_logout_is_local(app):
    org_id, integration_id = connect(app, "Initech", domain="initech.example")
    tenant = Tenant(org_id, integration_id, "", IDP)
    client = sign_in(app, tenant, "p@initech.example", "s-9")
    r = client.post(f"{BASE_URL}/logout")
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/"
    assert me(client).status_code == 401


def test_a_password_session_signs_out_locally(app, acme):
    client = app.test_client()
    r = client.post(f"{BASE_URL}/logout")
    assert r.status_code == 302 and not r.headers["Location"].startswith("https://acme.okta")


# -- IdP-initiated ---------------------------------------------------------------------------


def test_idp_logout_ends_the_named_session_and_answers_signed(app, acme):
    first = sign_in(app, acme, "ada@acme.example", "s-1")
    second = sign_in(app, acme, "ada@acme.example", "s-2")
    bob = sign_in(app, acme, "bob@acme.example", "s-3")
    outsider = app.test_client()
    with listen(signals.sso_logout) as heard:
        r = idp_logout(outsider, acme, "ada@acme.example", "s-1", request_id="id-logout-1")
    assert r.status_code == 302 and r.headers["Location"].startswith(OKTA_SLO_URL + "?")
    answer = read_sp_request(r.headers["Location"].replace("SAMLResponse", "SAMLRequest", 1))
    assert answer.xml.tag == f"{{{C.NS_SAMLP}}}LogoutResponse"
    assert answer.xml.get("InResponseTo") == "id-logout-1"
    params = dict(parse_qsl(urlsplit(r.headers["Location"]).query))
    assert params["SigAlg"] == C.RSA_SHA256 and params["Signature"]
    assert heard[0][1]["name_id"] == "ada@acme.example" and heard[0][1]["initiated_by"] == "idp"
    assert me(first).status_code == 401
    assert me(second).status_code == 200 and me(bob).status_code == 200
    # Without a SessionIndex: every session of the person through this connection.
    assert idp_logout(outsider, acme, "ada@acme.example").status_code == 302
    assert me(second).status_code == 401 and me(bob).status_code == 200
    # Signing in again afterwards works: a logout ends sessions opened before it.
    assert me(sign_in(app, acme, "ada@acme.example", "s-4")).status_code == 200


def test_idp_logout_in_the_browser_ends_its_session_at_once(app, acme):
    client = sign_in(app, acme, "ada@acme.example", "s-1")
    xml = logout_request(IDP, destination=acme.slo, name_id="ada@acme.example")
    r = client.post(acme.slo, data={"SAMLRequest": post_form(IDP, xml), "RelayState": "r1"})
    assert r.status_code == 302
    assert dict(parse_qsl(urlsplit(r.headers["Location"]).query))["RelayState"] == "r1"
    assert me(client).status_code == 401


def test_idp_logout_does_not_touch_sessions_vouched_for_by_another_organization(app, acme, globex):
    through_acme = sign_in(app, acme, "ada@acme.example", "s-1")
    okta_cli_ok(app, "org", "add-member", str(globex.org_id), "ada@acme.example")
    through_globex = sign_in(app, globex, "ada@acme.example", "g-1")
    # Globex's IdP logs "ada@acme.example" out: only Globex's session of her ends.
    assert idp_logout(app.test_client(), globex, "ada@acme.example").status_code == 302
    assert me(through_globex).status_code == 401
    assert me(through_acme).status_code == 200
    # Globex's IdP cannot speak for Acme's connection at all.
    xml = logout_request(GLOBEX_IDP, destination=acme.slo, name_id="ada@acme.example")
    query = redirect_query(GLOBEX_IDP, xml, param="SAMLRequest")
    assert app.test_client().get(acme.slo + "?" + query).status_code == 403
    assert me(through_acme).status_code == 200


def test_idp_logout_reaches_sessions_served_by_another_process(app, acme, database_url):
    """Two application instances on one database (as two processes would be): the logout
    received by one ends the session when it is next used on the other."""
    client = sign_in(app, acme, "ada@acme.example", "s-1")
    other = create_app(
        {
            **{k: app.config[k] for k in app.config if k.startswith(("OKTA_SCIM_", "WTF_"))},
            "SECRET_KEY": app.config["SECRET_KEY"],
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
        }
    )
    elsewhere = other.test_client()
    for cookie in client._cookies.values():
        elsewhere.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    assert me(elsewhere).status_code == 200
    assert idp_logout(app.test_client(), acme, "ada@acme.example", "s-1").status_code == 302
    assert me(elsewhere).status_code == 401
    with other.app_context():
        from sample_app.models import db

        db.engine.dispose()


# -- attacks ---------------------------------------------------------------------------------


def _refused(app: t.Any, tenant: Tenant) -> str:
    with app.app_context():
        d = okta.directory()
        rows = d.audit_log(d.get_organization(tenant.org_id), kind="sso.logout", limit=1)
        assert rows and rows[0].outcome == "failure"
        return str(rows[0].detail["reason"])


def _get(app: t.Any, tenant: Tenant, query: str) -> t.Any:
    return app.test_client().get(tenant.slo + "?" + query)


def test_unsigned_or_wrongly_signed_logout_requests_are_refused(app, acme):
    victim = sign_in(app, acme, "ada@acme.example", "s-1")
    xml = logout_request(IDP, destination=acme.slo, name_id="ada@acme.example")
    assert (
        _get(app, acme, redirect_query(IDP, xml, param="SAMLRequest", sign=False)).status_code
        == 403
    )
    assert "not signed" in _refused(app, acme)
    impostor = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT, entity_id=OKTA_ENTITY_ID)
    assert _get(app, acme, redirect_query(impostor, xml, param="SAMLRequest")).status_code == 403
    assert "does not verify" in _refused(app, acme)
    c = app.test_client()
    assert (
        c.post(acme.slo, data={"SAMLRequest": post_form(IDP, xml, sign=False)}).status_code == 403
    )
    assert c.post(acme.slo, data={"SAMLRequest": post_form(impostor, xml)}).status_code == 403
    sha1 = redirect_query(IDP, xml, param="SAMLRequest", algorithm=C.RSA_SHA1)
    assert _get(app, acme, sha1).status_code == 403 and "not allowed" in _refused(app, acme)
    assert me(victim).status_code == 200


def test_a_tampered_signed_query_is_refused(app, acme):
    victim = sign_in(app, acme, "ada@acme.example", "s-1")
    bob = logout_request(IDP, destination=acme.slo, name_id="bob@acme.example")
    query = redirect_query(IDP, bob, param="SAMLRequest")
    ada = logout_request(IDP, destination=acme.slo, name_id="ada@acme.example")
    swapped = dict(p.split("=", 1) for p in query.split("&"))
    swapped["SAMLRequest"] = quote_plus(
        base64.b64encode(zlib.compress(ada.encode())[2:-4]).decode()
    )
    assert _get(app, acme, "&".join(f"{k}={v}" for k, v in swapped.items())).status_code == 403
    # A parameter given twice is refused outright.
    assert _get(app, acme, query + "&SAMLRequest=x").status_code == 400
    assert me(victim).status_code == 200


def test_a_replayed_logout_request_is_refused(app, acme):
    xml = logout_request(IDP, destination=acme.slo, name_id="ada@acme.example", request_id="id-1")
    query = redirect_query(IDP, xml, param="SAMLRequest")
    assert _get(app, acme, query).status_code == 302
    victim = sign_in(app, acme, "ada@acme.example", "s-2")
    assert _get(app, acme, query).status_code == 403 and "replay" in _refused(app, acme)
    assert me(victim).status_code == 200


@pytest.mark.parametrize(
    "kw, reason",
    [
        ({"destination": "https://app.example.test/elsewhere"}, "Destination"),
        ({"issuer": "http://www.okta.com/exkOTHER"}, "Issuer"),
        ({"issue_instant": -900}, "too old"),
        ({"issue_instant": 900}, "too old or ahead"),
        ({"not_on_or_after": -10}, "expired"),
    ],
)
def test_logout_requests_must_be_addressed_and_fresh(app, acme, kw, reason):
    victim = sign_in(app, acme, "ada@acme.example", "s-1")
    xml = logout_request(IDP, name_id="ada@acme.example", **{"destination": acme.slo, **kw})
    assert _get(app, acme, redirect_query(IDP, xml, param="SAMLRequest")).status_code == 403
    assert reason in _refused(app, acme)
    assert me(victim).status_code == 200


def test_malformed_and_oversized_messages_are_refused_cheaply(app, acme):
    bomb = base64.b64encode(zlib.compress(b"<a>" + b" " * 50_000_000 + b"</a>")[2:-4]).decode()
    assert len(bomb) < 100_000
    assert _get(app, acme, "SAMLRequest=" + quote_plus(bomb)).status_code == 400
    assert "inflates beyond" in _refused(app, acme)
    assert _get(app, acme, "SAMLRequest=" + "A" * 200_000).status_code == 400
    assert _get(app, acme, "SAMLRequest=%%%").status_code == 400
    assert _get(app, acme, "").status_code == 400
    doctype = '<!DOCTYPE x [<!ENTITY e "boom">]><samlp:LogoutRequest/>'
    r = app.test_client().post(
        acme.slo, data={"SAMLRequest": base64.b64encode(doctype.encode()).decode()}
    )
    assert r.status_code == 400


def test_a_logout_request_must_name_one_person_plainly(app, acme):
    xml = logout_request(IDP, destination=acme.slo, name_id="ada@acme.example")
    encrypted = xml.replace("saml2:NameID", "saml2:EncryptedID").replace(
        ' Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"', ""
    )
    assert _get(app, acme, redirect_query(IDP, encrypted, param="SAMLRequest")).status_code in (
        400,
        403,
    )


def test_a_logout_response_must_answer_a_request(app, acme):
    answer = logout_response(IDP, destination=acme.slo, in_response_to=None)
    r = app.test_client().post(acme.slo, data={"SAMLResponse": post_form(IDP, answer)})
    assert r.status_code == 403 and "answers no request" in _refused(app, acme)


def test_an_authn_request_id_is_not_a_sign_out(app, acme):
    """A LogoutResponse naming this browser's pending *sign-in* request is refused."""
    client = app.test_client()
    request_id = start_login(client, acme.integration_id)
    answer = logout_response(IDP, destination=acme.slo, in_response_to=request_id)
    r = client.post(acme.slo, data={"SAMLResponse": post_form(IDP, answer)})
    assert r.status_code == 403


def test_purge_deletes_logout_records_once_no_session_can_need_them(app, acme):
    from datetime import timedelta

    from sqlalchemy import func
    from sqlalchemy import select
    from sqlalchemy import update

    from sample_app.models import db

    assert idp_logout(app.test_client(), acme, "ada@acme.example", "s-1", "s-2").status_code == 302
    lo = okta.models.logout
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(lo)) == 2
    assert "logouts_deleted" not in okta_cli_ok(app, "purge")  # still needed
    with app.app_context():
        db.session.execute(update(lo).values(expires_at=lo.expires_at - timedelta(days=400)))
        db.session.commit()
    assert '"logouts_deleted": 2' in okta_cli_ok(app, "purge")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(lo)) == 0
