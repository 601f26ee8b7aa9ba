"""IdP certificates: weak keys and certificates not valid now are refused when configured, and a
sign-in trusts only the connection's certificates valid now (issue 10).

Certificates are made here with ``cryptography`` (tests/cert_factory.py); responses are really
signed with their keys. The CLI side (``sso configure``, ``sso show``, ``sso
check-certificates``) is in tests/cli/test_sso_certificates.py.
"""

from __future__ import annotations

import hashlib
import logging
import typing as t
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from flask_okta_scim.core.errors import InvalidValue
from flask_okta_scim.saml.certificates import MIN_RSA_BITS
from flask_okta_scim.saml.certificates import CertificateRefused
from flask_okta_scim.saml.certificates import check_certificate
from flask_okta_scim.saml.certificates import inspect_certificate
from flask_okta_scim.saml.certificates import trusted_certificates
from flask_okta_scim.saml.settings import certificate_body
from sample_app.models import okta
from tests.cert_factory import DAY
from tests.cert_factory import make_certificate
from tests.cert_factory import make_idp
from tests.cert_factory import private_key
from tests.saml_idp import IDP_CERT
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import TestIdP
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import sign_in_url

RSA = private_key("rsa", 2048)
GOOD = make_certificate(RSA)
WEAK = make_certificate(private_key("rsa", 1024))
EXPIRED = make_certificate(RSA, not_before=-400 * DAY, not_after=-DAY)
FUTURE = make_certificate(RSA, not_before=2 * DAY, not_after=400 * DAY)
EXPIRING = make_certificate(RSA, not_after=10 * DAY)


# -- the core: reading and judging a certificate -----------------------------------------------


def test_inspection_reads_key_subject_dates_and_fingerprint():
    info = inspect_certificate(GOOD)
    cert = x509.load_pem_x509_certificate(GOOD.encode())
    assert info.key == "RSA 2048" and info.weakness is None
    assert info.subject == "O=Okta,CN=Test Okta IdP"
    assert info.not_before == cert.not_valid_before_utc
    assert info.not_after == cert.not_valid_after_utc
    digest = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest().upper()
    assert info.fingerprint.replace(":", "") == digest
    assert info.state() == "valid" and info.days_left(info.not_before + DAY) == 365
    # The base64 body alone (as metadata holds it) reads the same.
    assert inspect_certificate(certificate_body(GOOD)) == info


def test_the_suites_own_idp_certificates_are_valid_now_and_strong():
    for path in (IDP_CERT, OTHER_IDP_CERT):
        info = check_certificate(Path(path).read_text())
        assert info.key == f"RSA {MIN_RSA_BITS}"


@pytest.mark.parametrize("allow_expired", [False, True])
def test_a_weak_rsa_key_is_refused_even_with_the_override(allow_expired):
    with pytest.raises(CertificateRefused, match="1024-bit RSA key; at least 2048") as e:
        check_certificate(WEAK, allow_expired=allow_expired)
    assert e.value.kind == "weak"
    assert not inspect_certificate(WEAK).trusted(allow_expired=True)


def test_an_expired_certificate_is_refused_unless_the_operator_overrides():
    with pytest.raises(CertificateRefused, match=r"expired on \d{4}-\d\d-\d\d") as e:
        check_certificate(EXPIRED)
    assert e.value.kind == "expired"
    assert check_certificate(EXPIRED, allow_expired=True).state() == "expired"


@pytest.mark.parametrize("allow_expired", [False, True])
def test_a_certificate_not_valid_yet_is_refused(allow_expired):
    with pytest.raises(CertificateRefused, match="is not valid before") as e:
        check_certificate(FUTURE, allow_expired=allow_expired)
    assert e.value.kind == "not_yet_valid"


def test_a_brand_new_certificate_from_a_clock_slightly_ahead_is_accepted():
    check_certificate(make_certificate(RSA, not_before=timedelta(minutes=2)))


@pytest.mark.parametrize(
    ("kind", "size", "accepted"),
    [("ec", 256, True), ("ec", 384, True), ("ec", 192, False), ("dsa", 2048, False)],
)
def test_ec_keys_from_p256_up_are_accepted_other_kinds_are_not(kind, size, accepted):
    pem = make_certificate(private_key(kind, size))
    if accepted:
        assert check_certificate(pem).key.startswith("EC secp")
    else:
        with pytest.raises(CertificateRefused) as e:
            check_certificate(pem)
        assert e.value.kind == "weak"


@pytest.mark.parametrize("text", ["", "not base64 at all!", "QUJD", "-----BEGIN PRIVATE KEY"])
def test_what_is_not_a_certificate_is_unreadable(text):
    with pytest.raises(CertificateRefused) as e:
        inspect_certificate(text)
    assert e.value.kind == "unreadable"


def test_days_left_counts_calendar_days_in_utc():
    expiring, expired = inspect_certificate(EXPIRING), inspect_certificate(EXPIRED)
    assert expiring.days_left(expiring.not_after - 10 * DAY) == 10
    assert expiring.days_left(expiring.not_after - timedelta(seconds=1)) == 0  # the last day
    assert expired.days_left(expired.not_after + DAY) == -1
    end_of_day = expired.not_after.replace(hour=23, minute=59)
    assert expired.days_left(end_of_day.astimezone(timezone(timedelta(hours=5)))) == 0


def test_trust_keeps_only_the_certificates_valid_now():
    trust = trusted_certificates([EXPIRED, WEAK, GOOD, FUTURE, "garbage"])
    assert [info.body for info in trust.trusted] == [certificate_body(GOOD)]
    assert len(trust.refused) == 4 and "expired on" in trust.refused[0]
    with_override = trusted_certificates([EXPIRED, WEAK, FUTURE], allow_expired=True)
    assert [info.body for info in with_override.trusted] == [certificate_body(EXPIRED)]
    assert "no trusted IdP signing certificate" in trusted_certificates([WEAK]).reason()


# -- configuring a connection ------------------------------------------------------------------


def _configure(directory: t.Any, connection: t.Any, *certificates: str, **kw: t.Any) -> None:
    directory.configure_connection(
        connection,
        idp_entity_id=OKTA_ENTITY_ID,
        idp_sso_url=OKTA_SSO_URL,
        certificates=list(certificates),
        **kw,
    )


def test_configuration_refuses_weak_and_out_of_date_certificates(directory):
    with directory.atomic():
        connection = directory.connect(directory.create_organization("Acme"))
    for pem, message in [
        (WEAK, "1024-bit RSA key"),
        (EXPIRED, "--allow-expired-certificate"),
        (FUTURE, "not valid before"),
    ]:
        with pytest.raises(InvalidValue, match=message), directory.atomic():
            _configure(directory, connection, GOOD, pem)
    with pytest.raises(InvalidValue, match="weak key"), directory.atomic():
        _configure(directory, connection, WEAK, allow_expired_certificate=True)
    assert directory.connection_by_integration_id(connection.integration_id).status == "pending"


def test_the_override_is_stored_and_audited_and_cleared_by_the_next_configure(directory):
    with directory.atomic():
        org = directory.create_organization("Legacy")
        connection = directory.connect(org)
        _configure(directory, connection, EXPIRED, allow_expired_certificate=True)
    assert connection.allow_expired_certificate is True
    entry = directory.audit_log(org, kind="sso.configure")[0]
    assert entry.detail["allow_expired_certificate"] is True
    assert entry.detail["fingerprints"] == [inspect_certificate(EXPIRED).fingerprint]
    with directory.atomic():
        _configure(directory, connection, GOOD)
    assert connection.allow_expired_certificate is False


# -- signing in --------------------------------------------------------------------------------


def connect_with(app: t.Any, name: str, *certificates: str, allow_expired: bool = False) -> str:
    """A configured connection whose certificates are stored as given (bypassing the checks,
    as for a certificate that expired after it was configured); its Integration ID."""
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.create_organization(name)
        directory.add_team_domain(directory.create_team(org, "Everyone"), "acme.example")
        connection = directory.connect(org)
        _configure(directory, connection, GOOD)
        connection.idp_certificates = list(certificates)
        connection.allow_expired_certificate = allow_expired
        return t.cast(str, connection.integration_id)


def refusals(app: t.Any, integration_id: str) -> list[str]:
    with app.app_context():
        directory = okta.directory()
        connection = directory.connection_by_integration_id(integration_id)
        org = directory.get_organization(connection.organization_id)
        return [e.detail["reason"] for e in directory.audit_log(org, kind="sso.login")]


def test_a_response_signed_under_an_expired_certificate_signs_nobody_in(app, tmp_path, caplog):
    idp = make_idp(tmp_path, "lapsed", not_before=-400 * DAY, not_after=-DAY)
    integration_id = connect_with(app, "Acme", idp.certificate)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_okta_scim.sso"):
        r = post_acs(client, integration_id, idp.for_connection(integration_id, "a@acme.example"))
    assert r.status_code == 403
    page = r.get_data(as_text=True)
    assert "Okta sign-in is unavailable" in page and "certificate" in page
    assert "expired on" not in page  # the details are for the log
    assert me(client).status_code == 401
    [reason] = refusals(app, integration_id)
    assert "no trusted IdP signing certificate" in reason and "expired on" in reason
    assert "sso configure" in reason
    assert "expired on" in caplog.text and "sso configure" in caplog.text


def test_with_the_override_an_expired_certificate_is_trusted(app, tmp_path):
    idp = make_idp(tmp_path, "lapsed", not_before=-400 * DAY, not_after=-DAY)
    integration_id = connect_with(app, "Acme", idp.certificate, allow_expired=True)
    client = app.test_client()
    r = post_acs(client, integration_id, idp.for_connection(integration_id, "a@acme.example"))
    assert r.status_code == 302, r.get_data(as_text=True)
    assert me(client).json["email"] == "a@acme.example"


def test_a_weak_key_is_not_trusted_even_with_the_override(app, tmp_path):
    idp = make_idp(tmp_path, "weak", bits=1024)
    integration_id = connect_with(app, "Acme", idp.certificate, allow_expired=True)
    client = app.test_client()
    r = post_acs(client, integration_id, idp.for_connection(integration_id, "a@acme.example"))
    assert r.status_code == 403 and me(client).status_code == 401
    assert "1024-bit RSA key" in refusals(app, integration_id)[0]


def test_a_certificate_not_valid_yet_is_not_trusted(app, tmp_path):
    idp = make_idp(tmp_path, "early", not_before=2 * DAY)
    integration_id = connect_with(app, "Acme", idp.certificate, allow_expired=True)
    client = app.test_client()
    r = post_acs(client, integration_id, idp.for_connection(integration_id, "a@acme.example"))
    assert r.status_code == 403 and me(client).status_code == 401
    assert "not valid before" in refusals(app, integration_id)[0]


def test_in_a_rollover_the_expired_certificate_stops_counting(app, tmp_path):
    old = make_idp(tmp_path, "old", n=1, not_before=-400 * DAY, not_after=-DAY)
    new = make_idp(tmp_path, "new", n=2)
    integration_id = connect_with(app, "Acme", old.certificate, new.certificate)
    client = app.test_client()
    r = post_acs(client, integration_id, old.for_connection(integration_id, "a@acme.example"))
    assert r.status_code == 403 and me(client).status_code == 401
    assert "Sign-in failed" in r.get_data(as_text=True)  # the new certificate is still trusted
    r = post_acs(client, integration_id, new.for_connection(integration_id, "a@acme.example"))
    assert r.status_code == 302 and me(client).json["email"] == "a@acme.example"


def test_the_suites_idp_still_signs_in_with_a_valid_certificate(app):
    idp = TestIdP()
    integration_id = connect_with(app, "Acme", idp.certificate)
    client = app.test_client()
    r = post_acs(client, integration_id, idp.for_connection(integration_id, "a@acme.example"))
    assert r.status_code == 302 and me(client).status_code == 200


def test_sp_initiated_sign_in_stops_before_okta_when_no_certificate_is_trusted(app, caplog):
    integration_id = connect_with(app, "Acme", EXPIRED)
    with caplog.at_level(logging.WARNING, logger="flask_okta_scim.sso"):
        r = app.test_client().get(sign_in_url(integration_id))
    assert r.status_code == 403 and "Location" not in r.headers
    assert "Okta sign-in is unavailable" in r.get_data(as_text=True)
    assert "expired on" in caplog.text
