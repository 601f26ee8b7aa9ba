"""Two processes on one database: a sign-in started on one finishes on the other; replays are
caught across them (SPEC §6 "Scale"). Two real ``flask run`` servers stand for two workers or
hosts behind one load balancer, both with the same public base URL."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
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

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/users/sign-in/sso/okta"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``flask run`` process of the sample app."""

    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            "FLASK_OKTA_SCIM_BASE_URL": BASE_URL,  # the public URL of the load balancer
            "FLASK_SECRET_KEY": "shared by every process",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "sample_app",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the sample app did not start")

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": "app.example.test"}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            set_cookies = response.headers.get_all("Set-Cookie") or []
            out = {"Location": response.headers.get("Location", "")}
            for cookie in set_cookies:
                name, _, rest = cookie.partition("=")
                out[f"cookie:{name}"] = rest.split(";", 1)[0]
            return response.status, out, response.read()
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def servers(app: t.Any, database_url: str) -> Iterator[tuple[Server, Server]]:
    a = Server(database_url)
    try:
        b = Server(database_url)
    except Exception:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


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
        assert status == 200 and b"ada@acme.example" in body

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
