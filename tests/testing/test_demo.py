"""``make demo`` smoke test (issue 13): the sample app with the simulated Okta, seeded as the
Makefile does, served by ``flask run``; the demo organization's sign-in URL completes a sign-in
through the simulated Okta's page and the real ACS, and the printed token works for SCIM."""

from __future__ import annotations

import html
import json
import re
import typing as t
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.sample_server import SampleServer


@pytest.fixture
def demo(tmp_path: Path) -> t.Iterator[tuple[SampleServer, str]]:
    server = SampleServer(
        f"sqlite:///{tmp_path / 'demo.sqlite'}",
        tmp_path / "server.log",
        env={"FLASK_SAMPLE_SIMULATED_OKTA": "1"},
    )
    server.ok("init-db")
    seeded = server.run("seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    with server:
        yield server, seeded.stderr


def form_of(page: bytes) -> tuple[str, dict[str, str]]:
    text = page.decode()
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', text).group(1))
    fields = {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text)
    }
    return action, fields


def test_make_demo_signs_in_through_the_simulated_okta(demo):
    server, printed = demo
    assert "connected to the simulated Okta, with provisioning on" in printed
    sign_in = re.search(r"Sign in through 'Okta': (\S+)", printed).group(1)
    token = re.search(r"with the token (\S+) \(shown once\)", printed).group(1)
    cookies: dict[str, str] = {}

    def call(method: str, url: str, body: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        parts = urllib.parse.urlsplit(url)
        path = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
        status, headers, content = server.request(method, path, body, cookies)
        cookies.update({k[7:]: v for k, v in headers.items() if k.startswith("cookie:")})
        return status, headers["Location"], content

    status, location, _ = call("GET", sign_in)
    assert status == 302 and "/simulated-okta/sso?SAMLRequest=" in location
    status, _, page = call("GET", location)
    assert status == 200 and b"Sign in as new.person@demo.example" in page
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    status, _, posting = call("POST", location, {**query, "email": "new.person@demo.example"})
    action, fields = form_of(posting)
    status, location, _ = call("POST", action, fields)
    assert status == 302, server.logs()
    status, _, me = call("GET", server.url("/me"))
    assert status == 200, me
    got = json.loads(me)
    assert got["email"] == "new.person@demo.example"
    assert [(o["name"], [team["name"] for team in o["teams"]]) for o in got["organizations"]] == [
        ("Demo Organization", ["Operations"])
    ]
    scim = urllib.request.Request(
        server.url("/scim/v2/Users?count=1"), headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(scim, timeout=20) as answer:
        assert answer.status == 200
