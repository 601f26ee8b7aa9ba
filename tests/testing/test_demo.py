"""``make demo`` smoke test (issue 13): the sample app with the simulated Okta, seeded as the
Makefile does, served by ``flask run``; the demo organization's sign-in URL completes a sign-in
through the simulated Okta's page and the real ACS, and the printed token works for SCIM."""

from __future__ import annotations

import html
import json
import re
import shlex
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


class Browser:
    """A cookie jar over :meth:`SampleServer.request` that follows the simulated Okta's pages."""

    def __init__(self, server: SampleServer) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}

    def call(
        self, method: str, url: str, body: dict[str, str] | None = None
    ) -> tuple[int, str, bytes]:
        parts = urllib.parse.urlsplit(url)
        path = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
        status, headers, content = self.server.request(method, path, body, self.cookies)
        self.cookies.update({k[7:]: v for k, v in headers.items() if k.startswith("cookie:")})
        return status, headers["Location"], content

    def sign_in(self, sign_in_url: str, email: str) -> int:
        """Open the sign-in URL, choose ``email`` on the simulated Okta's page, post the
        response to the ACS; return the ACS's status."""
        status, location, _ = self.call("GET", sign_in_url)
        assert status == 302 and "/simulated-okta/sso?SAMLRequest=" in location
        status, _, page = self.call("GET", location)
        assert status == 200 and f"Sign in as {email}".encode() in page
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        status, _, posting = self.call("POST", location, {**query, "email": email})
        action, fields = form_of(posting)
        status, _, _ = self.call("POST", action, fields)
        return status

    def me(self) -> t.Any:
        status, _, me = self.call("GET", self.server.url("/me"))
        assert status == 200, me
        return json.loads(me)


def teams_of(me: t.Any) -> list[tuple[str, list[str]]]:
    return [(o["name"], [team["name"] for team in o["teams"]]) for o in me["organizations"]]


def test_make_demo_signs_in_through_the_simulated_okta_and_runs_scenarios(demo):
    server, printed = demo
    assert "connected to the simulated Okta, with provisioning on" in printed
    sign_in = re.search(r"Sign in through 'Okta': (\S+)", printed).group(1)
    # 1. A newcomer signs in just in time.
    browser = Browser(server)
    assert browser.sign_in(sign_in, "new.person@demo.example") == 302, server.logs()
    me = browser.me()
    assert me["email"] == "new.person@demo.example"
    assert teams_of(me) == [("Demo Organization", ["Operations"])]
    # 2. The printed onboarding command provisions fifty people into three teams, and one of
    #    them signs in through Okta into the team Okta pushed.
    commands = re.findall(r"^ +\S*flask --app sample_app (okta-scim simulate .+)$", printed, re.M)
    assert [c.split()[2] for c in commands] == ["onboarding", "offboarding", "mass-unassign"]
    onboarding = server.run(*shlex.split(commands[0]))
    assert onboarding.returncode == 0, onboarding.stderr
    assert "looks as the scenario expects" in onboarding.stderr
    engineer = Browser(server)
    assert engineer.sign_in(sign_in, "engineer01@demo.example") == 302, server.logs()
    assert teams_of(engineer.me()) == [("Demo Organization", ["Engineering"])]
    # 3. Offboarding: finance4 is deactivated in Okta, and Okta's sign-in no longer lets them in.
    offboarding = server.run(*shlex.split(commands[1]))
    assert offboarding.returncode == 0, offboarding.stderr
    leaver = Browser(server)
    assert leaver.sign_in(sign_in, "finance4@demo.example") in (400, 403)
    assert leaver.call("GET", server.url("/me"))[0] == 401
