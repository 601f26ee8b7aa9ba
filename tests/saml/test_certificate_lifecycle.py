"""The certificate lifecycle as people see it (issue 15): "Okta rotated its certificate but the
connection still holds the old one" said plainly at the ACS and on the console; the console's
expiry warning; the metadata refresh state and **Refresh metadata**.

The refresh itself (what it applies, refuses and reports, the command) is in
tests/saml/test_metadata_refresh.py. Responses are really signed by the suite's two IdP keys:
``OLD`` (the certificate the connection holds) and ``NEW`` (Okta's after a rotation).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import typing as t
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from lxml import etree

from flask_okta_scim.core.text import LOG_VALUE_LIMIT
from flask_okta_scim.core.text import loggable
from flask_okta_scim.saml.certificates import fingerprint
from flask_okta_scim.saml.certificates import inspect_certificate
from flask_okta_scim.saml.errors import SamlError
from flask_okta_scim.saml.rotation import UNKNOWN_SIGNER
from flask_okta_scim.saml.rotation import explain_refusal
from flask_okta_scim.saml.rotation import rotated_reason
from flask_okta_scim.saml.rotation import unknown_signer
from flask_okta_scim.sqla.mixins import utcnow
from sample_app.models import okta
from tests.app.test_admin_console import PREFIX
from tests.app.test_admin_console import csrf
from tests.app.test_admin_console import post
from tests.app.test_admin_console import signed_in
from tests.cert_factory import DAY
from tests.cert_factory import make_certificate
from tests.cert_factory import private_key
from tests.conftest import okta_cli_ok
from tests.conftest import sample_app_on
from tests.metadata_server import MetadataServer
from tests.metadata_server import idp_metadata
from tests.saml_idp import NS_DS
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import encode
from tests.saml_idp import me
from tests.saml_idp import parse
from tests.saml_idp import post_acs
from tests.saml_idp import serialize

OLD = TestIdP()
NEW = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT)
OLD_FP, NEW_FP = fingerprint(OLD.certificate), fingerprint(NEW.certificate)
KEY_INFO = f"{{{NS_DS}}}KeyInfo"


@pytest.fixture
def app(database_url: str, backend: str) -> Iterator[Flask]:
    # CSRF on, as in production; metadata on loopback allowed.
    with sample_app_on(
        database_url, backend, WTF_CSRF_ENABLED=True, OKTA_SCIM_METADATA_ALLOW_PRIVATE=True
    ) as app:
        yield app


@pytest.fixture
def org(app: Flask) -> int:
    """Acme, with an admin (ada), a plain member (bob) and a team pre-approving acme.example."""
    with app.app_context(), okta.directory().atomic() as directory:
        acme = directory.create_organization("Acme")
        directory.add_team_domain(directory.create_team(acme, "Everyone"), "acme.example")
        for email, role in (("ada@acme.example", "admin"), ("bob@acme.example", "member")):
            account, _ = directory.ensure_account(email)
            account.set_password(f"{email.split('@')[0]}-pw")
            directory.add_member(acme, account, role=role)
        return t.cast(int, acme.id)


@pytest.fixture
def admin(app: Flask, org: int) -> t.Any:
    return signed_in(app, "ada@acme.example")


@pytest.fixture
def served() -> Iterator[MetadataServer]:
    with MetadataServer() as server:
        server.documents["/metadata"] = idp_metadata(OLD.certificate)
        yield server


def configure(app: Flask, org: int, *certificates: str, metadata_url: str | None = None) -> str:
    """Acme's connection holding ``certificates`` as given (not checked); its Integration ID."""
    with app.app_context(), okta.directory().atomic() as directory:
        organization = directory.get_organization(org)
        connection = directory.get_connection(organization) or directory.connect(organization)
        directory.configure_connection(
            connection,
            idp_entity_id=OKTA_ENTITY_ID,
            idp_sso_url=OKTA_SSO_URL,
            certificates=[OLD.certificate],
            metadata_url=metadata_url,
        )
        connection.idp_certificates = list(certificates)
        return t.cast(str, connection.integration_id)


def refusals(app: Flask, org: int) -> list[t.Any]:
    with app.app_context():
        directory = okta.directory()
        return directory.audit_log(directory.get_organization(org), kind="sso.login")


def without_key_info(xml: str) -> str:
    """The signed response with every ``ds:KeyInfo`` removed (the signatures stay valid)."""
    root = parse(xml)
    for key_info in root.iter(KEY_INFO):
        key_info.getparent().remove(key_info)
    return serialize(root)


# -- at the ACS ------------------------------------------------------------------------------


def test_a_response_signed_with_a_certificate_the_connection_lacks_says_okta_rotated_it(
    app, org, caplog
):
    integration_id = configure(app, org, OLD.certificate)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_okta_scim.sso"):
        answer = post_acs(
            client, integration_id, NEW.for_connection(integration_id, "a@acme.example")
        )
    assert answer.status_code == 403 and me(client).status_code == 401
    page = answer.get_data(as_text=True)
    assert "Okta sign-in is unavailable" in page and NEW_FP not in page  # details: the log
    [refusal] = refusals(app, org)
    reason = refusal.detail["reason"]
    assert reason.startswith(UNKNOWN_SIGNER) and f"SHA-256 {NEW_FP}" in reason
    assert "rotated" in reason and "refresh-metadata" in reason and OLD_FP not in reason
    assert f"subject {inspect_certificate(NEW.certificate).subject}." in reason
    [logged] = [r for r in caplog.records if getattr(r, "okta_scim_event", "") == "sso.refused"]
    assert NEW_FP in logged.okta_scim_reason
    # Only reported, never trusted: the connection still holds just its own certificate.
    with app.app_context():
        connection = okta.directory().connection_by_integration_id(integration_id)
        assert connection.idp_certificates == [OLD.certificate]


def test_an_encrypted_sign_in_signed_with_an_unknown_certificate_says_so_too(app, org):
    integration_id = configure(app, org, OLD.certificate)
    sp_certificate = okta_cli_ok(app, "sso", "sp-key", "generate", str(org))
    xml = NEW.for_connection(integration_id, "a@acme.example", encrypt_for=sp_certificate)
    assert b"EncryptedAssertion" in xml.encode()
    answer = post_acs(app.test_client(), integration_id, xml)
    assert answer.status_code == 403
    [refusal] = refusals(app, org)
    assert refusal.detail["reason"].startswith(UNKNOWN_SIGNER)
    assert f"SHA-256 {NEW_FP}" in refusal.detail["reason"]


def test_a_response_without_key_info_gets_the_usual_refusal(app, org):
    integration_id = configure(app, org, OLD.certificate)
    xml = without_key_info(NEW.for_connection(integration_id, "a@acme.example"))
    answer = post_acs(app.test_client(), integration_id, xml)
    assert answer.status_code == 403 and "Sign-in failed" in answer.get_data(as_text=True)
    [refusal] = refusals(app, org)
    assert "Signature validation failed" in refusal.detail["reason"]
    assert UNKNOWN_SIGNER not in refusal.detail["reason"]


def test_a_bad_signature_under_the_configured_certificate_gets_the_usual_refusal(app, org):
    integration_id = configure(app, org, OLD.certificate)
    xml = OLD.for_connection(integration_id, "a@acme.example")
    tampered = xml.replace("a@acme.example", "z@acme.example")
    assert tampered != xml
    answer = post_acs(app.test_client(), integration_id, tampered)
    assert answer.status_code == 403
    [refusal] = refusals(app, org)
    assert "Signature validation failed" in refusal.detail["reason"]
    assert UNKNOWN_SIGNER not in refusal.detail["reason"]


def test_only_the_signatures_key_info_is_read_by_its_exact_path():
    xml = NEW.for_connection("abc", "a@acme.example")
    assert unknown_signer(xml.encode(), [OLD.certificate]).fingerprint == NEW_FP
    # Configured (as PEM, or as the metadata's base64 body): nothing to report.
    assert unknown_signer(xml.encode(), [OLD.certificate, NEW.certificate]) is None
    assert unknown_signer(xml.encode(), [NEW.certificate_body]) is None
    # The Assertion's signature alone is enough.
    root = parse(xml)
    root.remove(root.find(f"{{{NS_DS}}}Signature"))
    assert unknown_signer(serialize(root).encode(), [OLD.certificate]).fingerprint == NEW_FP
    # A certificate anywhere else is not read.
    root = parse(without_key_info(xml))
    stray = etree.SubElement(root, f"{{{NS_DS}}}X509Certificate")
    stray.text = NEW.certificate_body
    assert unknown_signer(serialize(root).encode(), [OLD.certificate]) is None
    for junk in (b"", b"not xml", b'<!DOCTYPE x [<!ENTITY e "e">]><x/>'):
        assert unknown_signer(junk, [OLD.certificate]) is None


def test_other_refusals_are_left_as_they_are():
    xml = NEW.for_connection("abc", "a@acme.example")
    form = {"SAMLResponse": encode(xml)}
    other = SamlError("Destination 'x' is not this ACS")
    assert explain_refusal(other, form, [OLD.certificate]) is other
    failed = SamlError("invalid SAMLResponse (invalid_response): Signature validation failed.")
    assert explain_refusal(failed, {"SAMLResponse": "%%%"}, [OLD.certificate]) is failed
    assert explain_refusal(failed, form, [NEW.certificate]) is failed
    explained = explain_refusal(failed, form, [OLD.certificate])
    assert explained is not failed and explained.reason.startswith(UNKNOWN_SIGNER)


def test_the_reason_fits_the_audit_log_whatever_the_subject():
    info = dataclasses.replace(inspect_certificate(NEW.certificate), subject="CN=" + "\n\\x" * 400)
    reason = rotated_reason(info)
    assert len(reason) <= LOG_VALUE_LIMIT and loggable(reason) == reason
    assert NEW_FP in reason and reason.endswith("Not trusted until then")


# -- the console -----------------------------------------------------------------------------


def sso_page(admin: t.Any, org: int) -> str:
    answer = admin.get(f"{PREFIX}/{org}/sso")
    assert answer.status_code == 200
    return t.cast(str, answer.get_data(as_text=True))


def alert(page: str, element_id: str) -> str | None:
    found = re.search(
        rf'<p class="[^"]*"(?: role="alert")? id="{element_id}">(.*?)</p>', page, re.S
    )
    return found.group(1) if found else None


def test_the_console_names_the_certificate_okta_now_signs_with(app, org, admin):
    integration_id = configure(app, org, OLD.certificate)
    assert alert(sso_page(admin, org), "unknown-signer") is None
    post_acs(
        app.test_client(), integration_id, NEW.for_connection(integration_id, "a@acme.example")
    )
    page = sso_page(admin, org)
    shown = alert(page, "unknown-signer")
    assert shown is not None and NEW_FP in shown and "probably rotated" in shown
    assert alert(page, "last-failure") is None  # the same refusal, said once

    # Another refusal since does not hide it; the latest such refusal is the one shown.
    post_acs(app.test_client(), integration_id, "<not saml/>")
    page = sso_page(admin, org)
    assert NEW_FP in (alert(page, "unknown-signer") or "") and alert(page, "last-failure")

    # Once the connection has the certificate, there is nothing to say.
    configure(app, org, NEW.certificate)
    assert alert(sso_page(admin, org), "unknown-signer") is None


def test_a_rotated_certificate_refusal_older_than_a_week_is_not_shown(app, org, admin):
    integration_id = configure(app, org, OLD.certificate)
    post_acs(
        app.test_client(), integration_id, NEW.for_connection(integration_id, "a@acme.example")
    )
    assert alert(sso_page(admin, org), "unknown-signer") is not None
    with app.app_context(), okta.directory().atomic() as directory:
        for row in directory.audit_log(directory.get_organization(org), kind="sso.login"):
            row.created_at = utcnow() - 8 * DAY
    assert alert(sso_page(admin, org), "unknown-signer") is None


RSA = private_key("rsa", 2048, 3)


@pytest.mark.parametrize(
    ("certificates", "expected"),
    [
        ([make_certificate(RSA, not_after=10 * DAY)], "expires in 10 day(s)"),
        ([make_certificate(RSA, not_after=400 * DAY)], None),
        # A rollover: the old one expiring next to a newer one is no warning.
        ([make_certificate(RSA, not_after=10 * DAY), make_certificate(RSA)], None),
        ([make_certificate(RSA, not_after=-DAY, not_before=-9 * DAY)], "trusted now"),
    ],
    ids=["expiring", "far off", "rollover", "expired"],
)
def test_the_console_warns_before_the_last_certificate_expires(
    app, org, admin, certificates, expected
):
    configure(app, org, *certificates)
    shown = alert(sso_page(admin, org), "certificate-alert")
    if expected is None:
        assert shown is None
    else:
        assert shown is not None and expected in shown


def test_the_warning_window_is_the_configured_one(database_url, backend):
    with sample_app_on(database_url, backend, OKTA_SCIM_CERTIFICATE_WARNING_DAYS=5) as app:
        with app.app_context(), okta.directory().atomic() as directory:
            acme = directory.create_organization("Acme")
            ada, _ = directory.ensure_account("ada@acme.example")
            ada.set_password("ada-pw")
            directory.add_member(acme, ada, role="admin")
            org = t.cast(int, acme.id)
        configure(app, org, make_certificate(RSA, not_after=10 * DAY))
        admin = app.test_client()
        admin.post("/login", data={"email": "ada@acme.example", "password": "ada-pw"})
        assert alert(sso_page(admin, org), "certificate-alert") is None
        configure(app, org, make_certificate(RSA, not_after=4 * DAY))
        assert "expires in 4 day(s)" in (alert(sso_page(admin, org), "certificate-alert") or "")


def test_refresh_metadata_is_offered_only_for_a_connection_with_a_metadata_url(
    app, org, admin, served
):
    configure(app, org, OLD.certificate)
    page = sso_page(admin, org)
    assert "Refresh metadata" not in page and 'id="metadata-state"' not in page
    refused = post(admin, f"{PREFIX}/{org}/sso/refresh-metadata", f"{PREFIX}/{org}/sso")
    assert refused.status_code == 409 and served.requests == 0

    configure(app, org, OLD.certificate, metadata_url=served.url())
    page = sso_page(admin, org)
    assert ">Refresh metadata</button>" in page
    assert "Last checked: not since it was saved." in page and 'id="metadata-error"' not in page


def test_the_refresh_button_picks_up_the_rotated_certificate(app, org, admin, served):
    integration_id = configure(app, org, OLD.certificate, metadata_url=served.url())
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    answer = post(admin, f"{PREFIX}/{org}/sso/refresh-metadata", f"{PREFIX}/{org}/sso")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{PREFIX}/{org}/sso")
    page = sso_page(admin, org)
    assert f"Metadata refreshed: new certificate {NEW_FP}; retiring {OLD_FP} until" in page
    assert re.search(r"Last checked: \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", page)
    with app.app_context():
        directory = okta.directory()
        connection = directory.connection_by_integration_id(integration_id)
        assert [fingerprint(c) for c in connection.idp_certificates] == [NEW_FP, OLD_FP]
        [entry] = directory.audit_log(directory.get_organization(org), kind="sso.metadata_refresh")
        assert entry.actor.startswith("admin:") and entry.detail["added"] == [NEW_FP]
    client = app.test_client()
    signed = post_acs(client, integration_id, NEW.for_connection(integration_id, "a@acme.example"))
    assert signed.status_code == 302


def test_a_refused_refresh_from_the_console_is_shown_and_changes_nothing(app, org, admin, served):
    configure(app, org, OLD.certificate, metadata_url=served.url())
    served.documents["/metadata"] = idp_metadata(
        NEW.certificate, entity_id="http://www.okta.com/exkOTHER"
    )
    post(admin, f"{PREFIX}/{org}/sso/refresh-metadata", f"{PREFIX}/{org}/sso")
    page = sso_page(admin, org)
    assert "The metadata was not applied; nothing changed." in page
    error = alert(page, "metadata-error")
    assert error is not None and "names another identity provider" in error
    with app.app_context():
        directory = okta.directory()
        connection = directory.get_connection(directory.get_organization(org))
        assert connection.idp_certificates == [OLD.certificate]


def test_the_refresh_button_needs_the_form_token_and_an_admin(app, org, admin, served):
    configure(app, org, OLD.certificate, metadata_url=served.url())
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    assert admin.post(f"{PREFIX}/{org}/sso/refresh-metadata").status_code == 400
    bob = signed_in(app, "bob@acme.example")
    token = csrf(bob.get("/login"))
    denied = bob.post(f"{PREFIX}/{org}/sso/refresh-metadata", data={"csrf_token": token})
    assert denied.status_code == 403
    assert served.requests == 0
    with app.app_context():
        directory = okta.directory()
        connection = directory.get_connection(directory.get_organization(org))
        assert connection.idp_certificates == [OLD.certificate]
        assert connection.metadata_checked_at is None


def test_a_page_of_a_connection_checked_long_ago_still_shows_when(app, org, admin, served):
    configure(app, org, OLD.certificate, metadata_url=served.url())
    with app.app_context(), okta.directory().atomic() as directory:
        connection = directory.get_connection(directory.get_organization(org))
        connection.metadata_checked_at = utcnow() - timedelta(days=3)
        connection.metadata_error = "The metadata could not be fetched: HTTP 503."
    page = sso_page(admin, org)
    assert "HTTP 503" in (alert(page, "metadata-error") or "")
    when = (utcnow() - timedelta(days=3)).strftime("%Y-%m-%d")
    assert f"Last checked: {when}" in page
