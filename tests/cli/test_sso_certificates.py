"""``flask okta-scim sso``: IdP certificates refused by ``configure``, shown by ``show`` with
their expiry, and watched by ``check-certificates`` (issue 10). The core and the sign-in side
are in tests/saml/test_certificates.py."""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from flask_okta_scim import signals
from flask_okta_scim.saml.certificates import inspect_certificate
from flask_okta_scim.saml.settings import certificate_body
from sample_app.models import okta
from tests.cert_factory import DAY
from tests.cert_factory import make_certificate
from tests.cert_factory import private_key
from tests.conftest import okta_cli as run
from tests.conftest import okta_cli_ok as ok
from tests.conftest import sample_app_on

SSO_URL = "https://acme.okta.example/app/acme_app/exkCERTS/sso/saml"


class Certs:
    """Certificates made when a test starts (days left are counted from then)."""

    def __init__(self) -> None:
        rsa = private_key("rsa", 2048)
        self.good = make_certificate(rsa)
        self.weak = make_certificate(private_key("rsa", 1024))
        self.expired = make_certificate(rsa, not_before=-400 * DAY, not_after=-DAY)
        self.future = make_certificate(rsa, not_before=2 * DAY, not_after=400 * DAY)
        self.expiring = make_certificate(rsa, not_after=10 * DAY)


@pytest.fixture
def c() -> Certs:
    return Certs()


@pytest.fixture
def pem(tmp_path: Path) -> t.Callable[[str], str]:
    """Write a certificate to a file; its path."""

    def write(text: str) -> str:
        path = tmp_path / f"cert{len(list(tmp_path.iterdir()))}.pem"
        path.write_text(text)
        return str(path)

    return write


@contextmanager
def expiring_heard() -> Iterator[list[dict[str, t.Any]]]:
    """What ``idp_certificate_expiring`` was sent with, read while the rows are attached."""
    heard: list[dict[str, t.Any]] = []

    def receiver(sender: t.Any, **kw: t.Any) -> None:
        heard.append(
            {
                "sender": sender,
                "organization": kw["organization"].name,
                "integration_id": kw["connection"].integration_id,
                "fingerprint": kw["certificate"].fingerprint,
                "not_after": kw["not_after"],
                "days_left": kw["days_left"],
            }
        )

    signals.idp_certificate_expiring.connect(receiver, weak=False)
    try:
        yield heard
    finally:
        signals.idp_certificate_expiring.disconnect(receiver)


def connected_org(app: Flask, name: str) -> str:
    org = ok(app, "org", "create", name).strip()
    ok(app, "sso", "connect", org)
    return org


def configure(app: Flask, org: str, *paths: str, extra: tuple[str, ...] = ()) -> t.Any:
    args = [arg for path in paths for arg in ("--certificate", path)]
    return run(app, "sso", "configure", org, "--sso-url", SSO_URL, *args, *extra)


def shown(app: Flask, org: str) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads(ok(app, "sso", "show", org)))


def expire_after_configuration(app: Flask, org: str, *certificates: str) -> None:
    """Store certificates as they are, as if they had expired since they were configured."""
    with app.app_context(), okta.directory().atomic() as directory:
        connection = directory.get_connection(directory.get_organization(org))
        connection.idp_certificates = [certificate_body(c) for c in certificates]


@pytest.mark.parametrize("override", [(), ("--allow-expired-certificate",)])
def test_configure_refuses_a_weak_key_even_with_the_override(c, app, pem, override):
    org = connected_org(app, "Acme")
    result = configure(app, org, pem(c.good), pem(c.weak), extra=override)
    assert result.exit_code == 1 and result.stdout == ""
    assert "1024-bit RSA key; at least 2048 bits" in result.stderr
    assert "CN=Test Okta IdP" in result.stderr
    assert shown(app, org)["status"] == "pending"


def test_configure_refuses_certificates_not_valid_now(c, app, pem):
    org = connected_org(app, "Acme")
    expired = configure(app, org, pem(c.expired))
    assert expired.exit_code == 1 and "expired on" in expired.stderr
    assert "--allow-expired-certificate" in expired.stderr
    future = configure(app, org, pem(c.future), extra=("--allow-expired-certificate",))
    assert future.exit_code == 1 and "is not valid before" in future.stderr
    assert shown(app, org)["status"] == "pending"


def test_metadata_with_an_expired_certificate_is_refused(c, app, tmp_path):
    from tests.cli.test_sso import CERT_BODY
    from tests.cli.test_sso import METADATA

    org = connected_org(app, "Acme")
    path = tmp_path / "okta.xml"
    path.write_text(METADATA.replace(CERT_BODY, certificate_body(c.expired)))
    result = run(app, "sso", "configure", org, "--metadata-file", str(path))
    assert result.exit_code == 1 and "expired on" in result.stderr
    ok(app, "sso", "configure", org, "--metadata-file", str(path), "--allow-expired-certificate")
    assert shown(app, org)["allow_expired_certificate"] is True


def test_the_override_trusts_an_expired_certificate_and_says_so(c, app, pem):
    org = connected_org(app, "Legacy")
    result = configure(app, org, pem(c.expired), extra=("--allow-expired-certificate",))
    assert result.exit_code == 0, result.stderr
    assert "expired IdP certificates of this connection are trusted" in result.stderr
    got = shown(app, org)
    assert got["allow_expired_certificate"] is True
    [cert] = got["idp_certificates"]
    assert cert["state"] == "expired" and cert["trusted"] is True and cert["days_left"] == -1
    lines = ok(app, "audit", org, "--kind", "sso.configure", "--json").splitlines()
    assert json.loads(lines[-1])["detail"]["allow_expired_certificate"] is True
    # Configuring again without the flag turns the override off.
    assert configure(app, org, pem(c.good)).exit_code == 0
    assert shown(app, org)["allow_expired_certificate"] is False


def test_show_prints_each_certificate_with_its_expiry_and_warns_within_the_window(c, app, pem):
    org = connected_org(app, "Acme")
    assert configure(app, org, pem(c.good), pem(c.expiring)).exit_code == 0
    result = run(app, "sso", "show", org)
    assert result.exit_code == 0
    good, expiring = json.loads(result.stdout)["idp_certificates"]
    info = inspect_certificate(c.expiring)
    assert expiring == {
        "fingerprint": info.fingerprint,
        "subject": "O=Okta,CN=Test Okta IdP",
        "key": "RSA 2048",
        "not_before": info.not_before.isoformat(),
        "not_after": info.not_after.isoformat(),
        "days_left": 10,
        "state": "valid",
        "trusted": True,
    }
    assert (
        good["days_left"] == 365 and good["fingerprint"] == inspect_certificate(c.good).fingerprint
    )
    assert "BEGIN" not in result.stdout and certificate_body(c.good) not in result.stdout
    [warning] = result.stderr.strip().splitlines()
    assert warning.startswith("Warning: the certificate O=Okta,CN=Test Okta IdP")
    assert "expires in 10 day(s)" in warning and info.fingerprint in warning


def test_show_is_quiet_for_certificates_far_from_expiry(c, app, pem):
    org = connected_org(app, "Acme")
    configure(app, org, pem(c.good))
    assert run(app, "sso", "show", org).stderr == ""


def test_show_warns_that_no_certificate_is_trusted_once_they_expired(c, app, pem):
    org = connected_org(app, "Acme")
    configure(app, org, pem(c.good))
    expire_after_configuration(app, org, c.expired)
    result = run(app, "sso", "show", org)
    assert json.loads(result.stdout)["idp_certificates"][0]["trusted"] is False
    assert "expired on" in result.stderr and "every sign-in is refused" in result.stderr


def test_check_certificates_signals_and_fails_for_a_connection_expiring_soon(c, app, pem):
    soon, fine = connected_org(app, "Soon"), connected_org(app, "Fine")
    configure(app, soon, pem(c.expiring))
    configure(app, fine, pem(c.good))
    with expiring_heard() as heard:
        result = run(app, "sso", "check-certificates")
    assert result.exit_code == 1
    rows = {row["organization_name"]: row for row in json.loads(result.stdout)}
    assert rows["Soon"]["expiring"] is True and rows["Soon"]["days_left"] == 10
    assert rows["Soon"]["fingerprint"] == inspect_certificate(c.expiring).fingerprint
    assert rows["Fine"]["expiring"] is False and rows["Fine"]["days_left"] == 365
    assert "'Soon': the IdP certificate expires in 10 day(s)" in result.stderr
    assert heard == [
        {
            "sender": app,
            "organization": "Soon",
            "integration_id": rows["Soon"]["integration_id"],
            "fingerprint": rows["Soon"]["fingerprint"],
            "not_after": inspect_certificate(c.expiring).not_after,
            "days_left": 10,
        }
    ]
    # A narrower window: nothing to say.
    with expiring_heard() as heard:
        assert run(app, "sso", "check-certificates", "--days", "5").exit_code == 0
    assert heard == []
    # One organization only.
    only = run(app, "sso", "check-certificates", fine)
    assert only.exit_code == 0 and [r["organization_name"] for r in json.loads(only.stdout)] == [
        "Fine"
    ]


def test_a_rollovers_old_certificate_expiring_is_no_warning(c, app, pem):
    org = connected_org(app, "Rolling")
    configure(app, org, pem(c.expiring), pem(c.good))
    with expiring_heard() as heard:
        result = run(app, "sso", "check-certificates")
    assert result.exit_code == 0 and heard == []
    assert json.loads(result.stdout)[0]["days_left"] == 365


def test_check_certificates_reports_expired_ones_and_respects_the_override(c, app, pem):
    lapsed, legacy = connected_org(app, "Lapsed"), connected_org(app, "Legacy")
    configure(app, lapsed, pem(c.good))
    expire_after_configuration(app, lapsed, c.expired)
    configure(app, legacy, pem(c.expired), extra=("--allow-expired-certificate",))
    with expiring_heard() as heard:
        result = run(app, "sso", "check-certificates")
    assert result.exit_code == 1
    rows = {row["organization_name"]: row for row in json.loads(result.stdout)}
    assert rows["Lapsed"] | {"integration_id": None, "organization": None} == {
        "organization": None,
        "organization_name": "Lapsed",
        "integration_id": None,
        "expiring": True,
        "trusted": False,
        "days_left": -1,
        "not_after": inspect_certificate(c.expired).not_after.isoformat(),
        "fingerprint": inspect_certificate(c.expired).fingerprint,
        "allow_expired_certificate": False,
    }
    assert rows["Legacy"]["expiring"] is False and rows["Legacy"]["trusted"] is True
    assert [(h["organization"], h["days_left"]) for h in heard] == [("Lapsed", -1)]
    assert "'Lapsed': no IdP certificate is trusted" in result.stderr


def test_a_connection_with_only_a_weak_certificate_fails_the_check(c, app, pem):
    org = connected_org(app, "Old")
    configure(app, org, pem(c.good))
    expire_after_configuration(app, org, c.weak)  # configured before weak keys were refused
    result = run(app, "sso", "check-certificates")
    assert result.exit_code == 1
    [row] = json.loads(result.stdout)
    assert row["trusted"] is False and row["expiring"] is False and row["days_left"] is None


def test_the_warning_window_comes_from_the_configuration(c, database_url, backend, pem):
    with sample_app_on(database_url, backend, OKTA_SCIM_CERTIFICATE_WARNING_DAYS=5) as app:
        org = connected_org(app, "Acme")
        configure(app, org, pem(c.expiring))
        assert run(app, "sso", "check-certificates").exit_code == 0
        assert run(app, "sso", "show", org).stderr == ""
        assert run(app, "sso", "check-certificates", "--days", "30").exit_code == 1


def test_check_certificates_with_no_connection_prints_an_empty_list(app):
    result = run(app, "sso", "check-certificates")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
