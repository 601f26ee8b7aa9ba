"""``flask okta-scim sso``: connect, configure (metadata link, file, by hand), show, switches."""

from __future__ import annotations

import http.server
import json
import re
import threading
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from sample_app import create_app
from sample_app.models import db
from tests.conftest import BASE_URL
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok

DATA = Path(__file__).parent.parent / "data"
CERT_BODY = "".join(
    line for line in (DATA / "idp.crt").read_text().splitlines() if not line.startswith("-----")
)
METADATA = f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor entityID="http://www.okta.com/exkMETADATA1"
    xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
      <ds:X509Data><ds:X509Certificate>{CERT_BODY}</ds:X509Certificate></ds:X509Data>
    </ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
      Location="https://acme.okta.example/app/acme_app/exkMETADATA1/sso/saml"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
      Location="https://acme.okta.example/app/acme_app/exkMETADATA1/sso/saml"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


run = okta_cli
ok = okta_cli_ok


def show(app: Flask, org: str) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads(ok(app, "sso", "show", org)))


@pytest.fixture
def org(app: Flask) -> str:
    return ok(app, "org", "create", "Acme").strip()


def test_connect_prints_an_integration_id_okta_accepts(app, org):
    result = run(app, "sso", "connect", org)
    integration_id = result.stdout.strip()
    assert re.fullmatch(r"[a-z0-9]{24}", integration_id)  # no "_": Okta refuses it in URLs
    assert "Integration ID" in result.stderr
    again = run(app, "sso", "connect", org)
    assert again.stdout.strip() == integration_id and "already has" in again.stderr


def test_show_prints_the_urls_to_enter_in_okta(app, org):
    integration_id = ok(app, "sso", "connect", org).strip()
    shown = show(app, org)
    base = f"{BASE_URL}/users/sign-in/sso/okta/{integration_id}"
    assert {
        k: shown[k]
        for k in (
            "integration_id",
            "status",
            "sign_in_url",
            "acs_url",
            "sp_entity_id",
            "sp_metadata_url",
            "allow_idp_initiated",
        )
    } == {
        "integration_id": integration_id,
        "status": "pending",
        "sign_in_url": base,
        "acs_url": f"{base}/acs",
        "sp_entity_id": f"{base}/metadata",
        "sp_metadata_url": f"{base}/metadata",
        "allow_idp_initiated": True,
    }


def test_configure_by_hand_with_okta_urls_derives_the_entity_id(app, org):
    ok(app, "sso", "connect", org)
    ok(
        app,
        "sso",
        "configure",
        org,
        "--sso-url",
        "https://acme.okta.example/app/acme_app/exkABC123/sso/saml",
        "--certificate",
        str(DATA / "idp.crt"),
        "--certificate",
        str(DATA / "other-idp.crt"),
    )
    shown = show(app, org)
    assert shown["status"] == "configured"
    assert shown["idp_entity_id"] == "http://www.okta.com/exkABC123"
    assert len(shown["idp_certificates"]) == 2  # a rollover: both keys are trusted


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sso-url", "https://idp.example/sso"], "needs at least one --certificate"),
        (
            ["--sso-url", "https://idp.example/sso", "--certificate", str(DATA / "idp.crt")],
            "--entity-id is needed",
        ),
        (
            ["--metadata-url", "https://x.example/m", "--sso-url", "https://y.example/s"],
            "exactly one",
        ),
        (
            [
                "--sso-url",
                "https://idp.example/sso",
                "--certificate",
                str(DATA / "idp.key"),
                "--entity-id",
                "x",
            ],
            "not a PEM certificate",
        ),
    ],
)
def test_configure_refuses_incomplete_input(app, org, args, message):
    ok(app, "sso", "connect", org)
    result = run(app, "sso", "configure", org, *args)
    assert result.exit_code != 0 and message in result.stderr
    assert show(app, org)["status"] == "pending"


def test_configure_needs_a_connection_first(app, org):
    result = run(app, "sso", "configure", org, "--metadata-file", str(DATA / "idp.crt"))
    assert result.exit_code != 0 and "sso connect" in result.stderr


def test_configure_from_a_metadata_file(app, org, tmp_path):
    ok(app, "sso", "connect", org)
    path = tmp_path / "okta.xml"
    path.write_text(METADATA)
    ok(app, "sso", "configure", org, "--metadata-file", str(path))
    shown = show(app, org)
    assert shown["idp_entity_id"] == "http://www.okta.com/exkMETADATA1"
    assert shown["idp_sso_url"] == "https://acme.okta.example/app/acme_app/exkMETADATA1/sso/saml"


def test_metadata_with_a_doctype_is_refused(app, org, tmp_path):
    ok(app, "sso", "connect", org)
    path = tmp_path / "evil.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + METADATA.split("?>", 1)[1]
    )
    result = run(app, "sso", "configure", org, "--metadata-file", str(path))
    assert result.exit_code != 0 and "cannot be read" in result.stderr


class _Metadata(http.server.BaseHTTPRequestHandler):
    body = METADATA.encode()

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/metadata")
            self.end_headers()
            return
        body = b"x" * (1024 * 1024 + 10) if self.path == "/huge" else self.body
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: t.Any) -> None:
        pass


@pytest.fixture
def metadata_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_metadata_urls_must_be_public_https(app, org, metadata_server):
    ok(app, "sso", "connect", org)
    for url, message in (
        (f"{metadata_server}/metadata", "must be an https:// URL"),
        ("https://127.0.0.1:1/metadata", "non-public address"),
        ("https://localhost/metadata", "non-public address"),
        ("https://[::1]/metadata", "non-public address"),
        ("file:///etc/passwd", "must be an https:// URL"),
    ):
        result = run(app, "sso", "configure", org, "--metadata-url", url)
        assert result.exit_code != 0 and message in result.stderr, (url, result.stderr)
    assert show(app, org)["status"] == "pending"


def test_an_operator_may_allow_private_metadata_urls(app, org, metadata_server, database_url):
    allowed = create_app({**app.config, "OKTA_SCIM_METADATA_ALLOW_PRIVATE": True})
    try:
        ok(allowed, "sso", "connect", org)
        ok(allowed, "sso", "configure", org, "--metadata-url", f"{metadata_server}/metadata")
        shown = show(allowed, org)
        assert shown["metadata_url"] == f"{metadata_server}/metadata"
        assert shown["idp_entity_id"] == "http://www.okta.com/exkMETADATA1"
        for path, message in (("/huge", "larger than 1 MiB"), ("/redirect", "redirects")):
            result = run(allowed, "sso", "configure", org, "--metadata-url", metadata_server + path)
            assert result.exit_code != 0 and message in result.stderr
    finally:
        with allowed.app_context():
            db.engine.dispose()


def test_idp_initiated_can_be_turned_off(app, org):
    ok(app, "sso", "connect", org)
    ok(app, "sso", "idp-initiated", org, "off")
    assert show(app, org)["allow_idp_initiated"] is False
    ok(app, "sso", "idp-initiated", org, "on")
    assert show(app, org)["allow_idp_initiated"] is True


def test_provisioning_waits_for_a_first_sign_in(app, org):
    ok(app, "sso", "connect", org)
    ok(
        app,
        "sso",
        "configure",
        org,
        "--sso-url",
        "https://acme.okta.example/app/acme_app/exkABC123/sso/saml",
        "--certificate",
        str(DATA / "idp.crt"),
    )
    result = run(app, "scim", "enable", org)
    assert result.exit_code != 0 and "sign-in through Okta" in result.stderr


@pytest.mark.parametrize(
    "command",
    [("sso",), ("sso", "connect"), ("sso", "configure"), ("sso", "show"), ("sso", "idp-initiated")],
)
def test_sso_commands_have_help(app, command):
    result = run(app, *command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout
