"""The extension's log: one logger tree, an event name and stable ``okta_scim_*`` fields on
every record, readable by a host's JSON formatter; and the public SAML helpers."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import typing as t
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from flask_okta_scim import signals
from flask_okta_scim.logs import EVENTS
from flask_okta_scim.logs import FIELDS
from flask_okta_scim.logs import LOGGER_NAME
from flask_okta_scim.logs import log
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import patch_body
from tests.conftest import sample_app_on
from tests.conftest import user_body
from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import make_tenant
from tests.saml_idp import encode

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: A forged log line and a terminal escape, as a sender could put them in a sign-in message.
FORGED = "\n2030-01-01 00:00:00 INFO flask_okta_scim.sso admin signed in\r\u2028\x1b[2J"


def ours(caplog: pytest.LogCaptureFixture, event: str | None = None) -> list[logging.LogRecord]:
    """The extension's records (of ``event``), each checked to carry every common field."""
    found = []
    for record in caplog.records:
        if record.name == LOGGER_NAME or record.name.startswith(LOGGER_NAME + "."):
            for name in FIELDS:
                assert hasattr(record, f"okta_scim_{name}"), (record.getMessage(), name)
            found.append(record)
    return [r for r in found if event is None or field(r, "event") == event]


def field(record: logging.LogRecord, name: str) -> t.Any:
    return getattr(record, f"okta_scim_{name}")


def post_junk(app: Flask, tenant: Tenant, address: str = "198.51.100.7", text: str = "") -> t.Any:
    return app.test_client().post(
        f"{app.config['OKTA_SCIM_BASE_URL']}/users/sign-in/sso/okta/{tenant.integration_id}/acs",
        data={"SAMLResponse": encode("<junk/>" + text)},
        environ_base={"REMOTE_ADDR": address},
    )


# -- events and their fields -----------------------------------------------------------------


def test_a_refused_sign_in_logs_the_reference_shown_on_its_page(app, caplog):
    acme = make_tenant(app, "Acme", IDP)
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    response = post_junk(app, acme)
    assert response.status_code == 403
    shown = re.search(r"Reference: ([0-9a-f]{12})", response.get_data(as_text=True))
    assert shown is not None
    [record] = ours(caplog, "sso.refused")
    assert record.name == "flask_okta_scim.sso" and record.levelno == logging.WARNING
    assert field(record, "reference") == shown.group(1)
    assert field(record, "organization") == str(acme.org_id)
    assert field(record, "connection") == acme.integration_id
    assert field(record, "status") == 403
    assert field(record, "reason") and "\n" not in field(record, "reason")
    assert shown.group(1) in record.getMessage()  # the message stays readable on its own


def test_a_scim_500_logs_the_request_with_its_traceback_and_no_token(app, scim_org, caplog):
    scim = ScimClient(app, scim_org[1])

    def crash(sender: t.Any, **kwargs: t.Any) -> None:
        raise ZeroDivisionError("internals")

    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    signals.user_provisioned.connect(crash)
    try:
        assert scim.post("/Users", user_body("crash@acme.example")).status_code == 500
    finally:
        signals.user_provisioned.disconnect(crash)
    [record] = ours(caplog, "scim.request_failed")
    assert record.name == "flask_okta_scim.scim" and record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    assert field(record, "organization") == str(scim_org[0])
    assert (field(record, "method"), field(record, "path")) == ("POST", "/scim/v2/Users")
    assert field(record, "status") == 500 and field(record, "reference") is None
    for logged in ours(caplog):
        assert scim_org[1] not in json.dumps(vars(logged), default=str)


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_request_run_again_after_a_deadlock_is_logged_at_info(app, scim_org, caplog):
    scim = ScimClient(app, scim_org[1])
    created = scim.post("/Users", user_body("ann@acme.example")).get_json(force=True)["id"]
    runs: list[int] = []

    def fail_once(sender: t.Any, **kwargs: t.Any) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise OperationalError("UPDATE ...", {}, _Deadlock("deadlock detected"))

    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    signals.user_updated.connect(fail_once)
    try:
        r = scim.patch(f"/Users/{created}", patch_body({"op": "replace", "value": {"title": "X"}}))
    finally:
        signals.user_updated.disconnect(fail_once)
    assert r.status_code == 200
    [record] = ours(caplog, "scim.rerun")
    assert record.name == "flask_okta_scim.scim" and record.levelno == logging.INFO
    assert field(record, "organization") == str(scim_org[0])
    assert field(record, "method") == "PATCH" and field(record, "attempt") == 2
    assert field(record, "path") == f"/scim/v2/Users/{created}"
    assert ours(caplog, "scim.request_failed") == []


@pytest.fixture
def limited_app(database_url: str, backend: str) -> Iterator[Flask]:
    with sample_app_on(
        database_url,
        backend,
        OKTA_SCIM_SSO_FAILURE_LIMIT="4/minute",
        OKTA_SCIM_SSO_ADDRESS_FAILURE_LIMIT="2/minute",
    ) as app:
        yield app


def test_an_exhausted_refusal_budget_is_one_warning_per_window(limited_app, caplog):
    acme = make_tenant(limited_app, "Acme", IDP)
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    statuses = [post_junk(limited_app, acme, "198.51.100.1").status_code for _ in range(5)]
    assert statuses == [403, 403, 429, 429, 429]
    [per_address] = ours(caplog, "sso.refusal_budget_exhausted")
    assert per_address.name == "flask_okta_scim.sso" and per_address.levelno == logging.WARNING
    assert field(per_address, "budget") == "fail-address"
    assert field(per_address, "address") == "198.51.100.1"
    assert field(per_address, "connection") is None
    assert len(ours(caplog, "sso.refused")) == 2

    caplog.clear()
    statuses = [post_junk(limited_app, acme, f"198.51.100.{n}").status_code for n in (2, 3, 4)]
    assert statuses == [403, 403, 429]  # four refusals in all for the connection
    [per_connection] = ours(caplog, "sso.refusal_budget_exhausted")
    assert field(per_connection, "budget") == "fail-connection"
    assert field(per_connection, "connection") == acme.integration_id
    assert field(per_connection, "address") is None


def test_an_expiring_certificate_is_a_warning_naming_the_connection(app, caplog):
    from tests.cert_factory import DAY
    from tests.cert_factory import make_certificate
    from tests.cert_factory import private_key

    acme = make_tenant(app, "Acme", IDP)
    expiring = make_certificate(private_key("rsa", 2048), not_after=10 * DAY)
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        connection = directory.get_connection(directory.get_organization("Acme"))
        directory.configure_connection(
            connection,
            idp_entity_id=IDP.entity_id,
            idp_sso_url=connection.idp_sso_url,
            certificates=[expiring],
        )
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    with app.app_context():
        okta.directory().certificate_check(timedelta(days=30))
    [record] = ours(caplog, "certificate.expiring")
    assert record.name == "flask_okta_scim.certificate" and record.levelno == logging.WARNING
    assert field(record, "organization") == str(acme.org_id)
    assert field(record, "connection") == acme.integration_id
    assert field(record, "days_left") == 10
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", field(record, "fingerprint"))


# -- a host's JSON formatter --------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """What a host might write: one JSON object per record, with the extension's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{k: v for k, v in vars(record).items() if k.startswith("okta_scim_")},
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def test_a_json_formatter_writes_one_line_per_record_whatever_the_sender_sent(app):
    acme = make_tenant(app, "Acme", IDP)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert post_junk(app, acme, text=FORGED * 3).status_code == 400
        assert post_junk(app, acme, text="A" * 5000).status_code == 400
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    for line in lines:
        entry = json.loads(line)
        assert entry["okta_scim_event"] == "sso.refused"
        assert entry["okta_scim_organization"] == str(acme.org_id)
        assert set(FIELDS) <= {k.removeprefix("okta_scim_") for k in entry}
        for value in entry.values():
            if isinstance(value, str):
                assert not {"\n", "\r", "\u2028", "\x1b"} & set(value), value
                assert len(value) < 1000


# -- the helper ----------------------------------------------------------------------------------


def test_the_helper_refuses_an_unknown_event_and_escapes_text_fields(caplog):
    with pytest.raises(ValueError, match="Unknown log event"):
        log("sso.nonsense", logging.WARNING, "x")
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    log("sso.refused", logging.WARNING, "refused", reason="a\nb", path="/x\r\ny", reference="r1")
    [record] = ours(caplog)
    assert field(record, "reason") == "a\\nb" and field(record, "path") == "/x\\r\\ny"
    assert field(record, "organization") is None and field(record, "reference") == "r1"
    if sys.version_info >= (3, 11):  # 3.10 counts ``stacklevel`` from inside logging
        assert record.funcName == "test_the_helper_refuses_an_unknown_event_and_escapes_text_fields"


def test_every_event_and_field_is_documented():
    text = (DOCS / "logging.rst").read_text()
    for event in EVENTS:
        assert f"``{event}``" in text, event
    for name in FIELDS:
        assert f"``okta_scim_{name}``" in text, name


# -- the public SAML helpers ---------------------------------------------------------------------


def test_metadata_and_certificate_helpers_are_public_and_the_same_objects():
    import flask_okta_scim.saml as public
    from flask_okta_scim.saml import addresses
    from flask_okta_scim.saml import certificates
    from flask_okta_scim.saml import errors
    from flask_okta_scim.saml import metadata

    expected = {
        "fetch_metadata": metadata.fetch_metadata,
        "parse_metadata": metadata.parse_metadata,
        "check_url": metadata.check_url,
        "IdpMetadata": metadata.IdpMetadata,
        "MAX_METADATA_BYTES": metadata.MAX_METADATA_BYTES,
        "TIMEOUT_SECONDS": metadata.TIMEOUT_SECONDS,
        "MetadataError": errors.MetadataError,
        "check_address": addresses.check_address,
        "CertificateInfo": certificates.CertificateInfo,
        "CertificateRefused": certificates.CertificateRefused,
        "Trust": certificates.Trust,
        "check_certificate": certificates.check_certificate,
        "fingerprint": certificates.fingerprint,
        "inspect_certificate": certificates.inspect_certificate,
        "trusted_certificates": certificates.trusted_certificates,
    }
    assert sorted(public.__all__) == sorted(expected)
    for name, obj in expected.items():
        assert getattr(public, name) is obj, name
    api = (DOCS / "api.rst").read_text()
    for name in public.__all__:
        assert f"flask_okta_scim.saml.{name}" in api, name


def test_every_event_the_source_logs_is_a_known_one():
    """A misspelt event would raise where it is logged, often in an error path no test takes."""
    package = Path(__file__).resolve().parents[2] / "flask_okta_scim"
    logged = set()
    for path in package.rglob("*.py"):
        logged |= set(re.findall(r"\blog\(\s*\"([a-z_.]+)\"", path.read_text()))
    assert logged == set(EVENTS)
