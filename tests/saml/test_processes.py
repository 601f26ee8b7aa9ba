"""Two processes on one database: a sign-in started on one finishes on the other; replays are
caught across them (SPEC §6 "Scale"). Two real ``flask run`` servers stand for two workers or
hosts behind one load balancer, both with the same public base URL."""

from __future__ import annotations

import typing as t
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import TestIdP
from tests.saml_idp import encode
from tests.sample_server import SampleServer

PREFIX = "/users/sign-in/sso/okta"


@pytest.fixture
def servers(
    app: t.Any, database_url: str, tmp_path: Path
) -> Iterator[tuple[SampleServer, SampleServer]]:
    """Two ``flask run`` processes on one database, behind one public URL (a load balancer)."""
    with (
        SampleServer(database_url, tmp_path / "a.log", base_url=BASE_URL) as a,
        SampleServer(database_url, tmp_path / "b.log", base_url=BASE_URL) as b,
    ):
        yield a, b


@pytest.fixture
def integration_id(app: t.Any) -> str:
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.create_organization("Acme")
        connection = directory.connect(org)
        directory.configure_connection(
            connection,
            idp_entity_id=OKTA_ENTITY_ID,
            idp_sso_url=OKTA_SSO_URL,
            certificates=[TestIdP().certificate],
        )
        team = directory.create_team(org, "Ops")
        directory.add_team_domain(team, "acme.example")
        return t.cast(str, connection.integration_id)


def test_a_sign_in_started_on_one_process_finishes_on_another(servers, integration_id):
    a, b = servers
    status, headers, _ = a.request("GET", f"{PREFIX}/{integration_id}?next=/me")
    assert status == 302
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(headers["Location"]).query)
    request_xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0])
    request_id = request_xml.split(b'ID="', 1)[1].split(b'"', 1)[0].decode()
    browser = {"okta_scim_sso": headers["cookie:okta_scim_sso"]}
    xml = TestIdP().for_connection(integration_id, "ada@acme.example", in_response_to=request_id)

    status, headers, _ = b.request(
        "POST", f"{PREFIX}/{integration_id}/acs", {"SAMLResponse": encode(xml)}, browser
    )
    assert status == 302 and headers["Location"] == "/me"
    session = {"session": headers["cookie:session"]}
    for server in (a, b):
        status, _, body = server.request("GET", "/me", cookies=session)
        assert status == 200 and b"ada@acme.example" in body, server.logs()

    # the same response, replayed on the other process (even with the browser's cookie)
    status, _, _ = a.request(
        "POST", f"{PREFIX}/{integration_id}/acs", {"SAMLResponse": encode(xml)}, browser
    )
    assert status == 403


def test_an_unsolicited_response_is_used_once_across_processes(servers, integration_id):
    a, b = servers
    xml = TestIdP().for_connection(integration_id, "bob@acme.example")
    status, headers, _ = a.request(
        "POST", f"{PREFIX}/{integration_id}/acs", {"SAMLResponse": encode(xml)}
    )
    assert status == 302 and headers["Location"] == "/"
    status, headers, _ = b.request(
        "POST", f"{PREFIX}/{integration_id}/acs", {"SAMLResponse": encode(xml)}
    )
    assert status == 403 and "cookie:session" not in headers
