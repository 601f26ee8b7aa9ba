"""The testing kit's simulated provisioning client (issue 13): the requests it sends are the
forms Okta (an OIN app, or a custom app without PATCH) and Entra send, with their headers;
it backs off on 429 as Okta does; the ready organization signs people in through the real ACS."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_okta_scim.testing import SimulatedIdP
from flask_okta_scim.testing.organizations import ReadyOrganization
from flask_okta_scim.testing.organizations import SimulatedSignInFailed
from flask_okta_scim.testing.organizations import ready_organization
from flask_okta_scim.testing.scim_client import FlaskTransport
from flask_okta_scim.testing.scim_client import Reply
from flask_okta_scim.testing.scim_client import SCIMRequestFailed
from flask_okta_scim.testing.scim_client import SimulatedSCIMClient
from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.conftest import sample_app_on
from tests.saml_idp import TestIdP

DOMAIN = "acme.example"


class Recording:
    """A transport that keeps what was sent (headers and decoded bodies) on the way through."""

    def __init__(self, inner: FlaskTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str, dict[str, str], t.Any]] = []

    def __call__(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        import json

        self.sent.append((method, path, dict(headers), json.loads(body) if body else None))
        return self.inner(method, path, headers, body)


@pytest.fixture
def acme(app: Flask) -> ReadyOrganization:
    return ready_organization(app, "Acme", TestIdP(), domains=[DOMAIN], jit_team="Everyone")


def client_for(
    app: Flask, org: ReadyOrganization, mode: str
) -> tuple[SimulatedSCIMClient, Recording]:
    recording = Recording(FlaskTransport(app, f"{BASE_URL}/scim/v2"))
    return SimulatedSCIMClient(recording, org.token or "", mode=mode), recording


def ops(sent: tuple[str, str, dict[str, str], t.Any]) -> list[dict[str, t.Any]]:
    return t.cast(list[dict[str, t.Any]], sent[3]["Operations"])


def team_members(app: Flask, org: ReadyOrganization, name: str) -> set[str]:
    with app.app_context():
        directory = okta.directory()
        team = directory.get_team(directory.get_organization(org.id), name)
        return {a.email for a in directory.team_members(team)}


def test_okta_headers_lookup_before_create_and_the_full_body(app, acme):
    client, rec = client_for(app, acme, "okta")
    created = client.assign(f"ann.lee@{DOMAIN}", password="Synced1!")
    (m1, p1, h1, _), (m2, p2, h2, body) = rec.sent
    assert (m1, m2, p2) == ("GET", "POST", "/Users")
    assert p1 == "/Users?filter=userName+eq+%22ann.lee%40acme.example%22&startIndex=1&count=100"
    assert h1["User-Agent"] == "Okta SCIM Client 1.0.0" and h1["Accept"] == "application/scim+json"
    assert h1["Authorization"] == f"Bearer {acme.token}" and "Content-Type" not in h1
    assert h2["Content-Type"] == "application/scim+json; charset=utf-8"
    assert body["name"] == {"givenName": "Ann", "familyName": "Lee"}
    assert body["password"] == "Synced1!" and body["active"] is True and body["groups"] == []
    assert body["externalId"].startswith("00u") and body["locale"] == "en-US"
    assert created["userName"] == f"ann.lee@{DOMAIN}" and "password" not in created


def test_okta_oin_forms_for_status_password_and_group_push(app, acme):
    client, rec = client_for(app, acme, "okta")
    client.assign_many([f"a@{DOMAIN}", f"b@{DOMAIN}"])
    del rec.sent[:]
    client.deactivate(f"a@{DOMAIN}")
    assert ops(rec.sent[-1]) == [{"op": "replace", "value": {"active": False}}]
    client.set_password(f"b@{DOMAIN}", "N3w!")
    assert ops(rec.sent[-1]) == [{"op": "replace", "value": {"password": "N3w!"}}]
    client.reactivate(f"a@{DOMAIN}")
    group = client.push_group("Eng", [f"a@{DOMAIN}"])
    gid = group["id"]
    lookup, create, rename, add = rec.sent[-4:]
    assert lookup[1].startswith("/Groups?filter=displayName+eq+%22Eng%22")
    assert create[3]["members"] == []
    assert ops(rename) == [{"op": "replace", "value": {"id": gid, "displayName": "Eng"}}]
    assert ops(add)[0]["op"] == "add" and ops(add)[0]["path"] == "members"
    client.remove_members("Eng", [f"a@{DOMAIN}"])
    assert ops(rec.sent[-1]) == [
        {"op": "remove", "path": f'members[value eq "{client.user_id(f"a@{DOMAIN}")}"]'}
    ]
    client.push_now("Eng", [f"b@{DOMAIN}"])
    assert ops(rec.sent[-1])[0]["op"] == "replace" and ops(rec.sent[-1])[0]["path"] == "members"
    assert team_members(app, acme, "Eng") == {f"b@{DOMAIN}"}
    client.unlink_group("Eng", delete=False)
    assert rec.sent[-1][0] == "PATCH"  # "leave the group": nothing sent
    assert team_members(app, acme, "Eng") == {f"b@{DOMAIN}"}


def test_custom_app_mode_sends_only_puts(app, acme):
    client, rec = client_for(app, acme, "okta-put")
    client.assign_many([f"a@{DOMAIN}", f"b@{DOMAIN}"])
    client.update(f"a@{DOMAIN}", given_name="Anna")
    client.set_password(f"a@{DOMAIN}", "Pw-2!")
    client.deactivate(f"b@{DOMAIN}")
    client.reactivate(f"b@{DOMAIN}")
    client.push_group("Eng", [f"a@{DOMAIN}"])
    client.add_members("Eng", [f"b@{DOMAIN}"])
    client.rename_group("Eng", "Engineering")
    assert {m for m, *_ in rec.sent} == {"GET", "POST", "PUT"}
    post_group = next(s for s in rec.sent if s[:2] == ("POST", "/Groups"))
    assert len(post_group[3]["members"]) == 1  # members go with the create
    assert team_members(app, acme, "Engineering") == {f"a@{DOMAIN}", f"b@{DOMAIN}"}
    with app.app_context():
        account = okta.directory().find_account(f"a@{DOMAIN}")
        assert account.check_password("Pw-2!")


def test_entra_forms(app, acme):
    client, rec = client_for(app, acme, "entra")
    client.assign(f"a@{DOMAIN}", password="ignored")
    lookup, create = rec.sent
    assert lookup[1] == "/Users?filter=userName+eq+%22a%40acme.example%22"  # no paging
    assert "Okta" not in lookup[2]["User-Agent"]
    assert "password" not in create[3]
    assert create[3]["schemas"][1].endswith("enterprise:2.0:User")
    client.deactivate(f"a@{DOMAIN}")
    assert ops(rec.sent[-1]) == [{"op": "Replace", "path": "active", "value": "False"}]
    client.update(f"a@{DOMAIN}", family_name="Lee")
    assert ops(rec.sent[-1]) == [{"op": "Replace", "path": "name.familyName", "value": "Lee"}]
    assert client.set_password(f"a@{DOMAIN}", "x") is None
    client.reactivate(f"a@{DOMAIN}")
    client.push_group("Eng", [f"a@{DOMAIN}"])
    assert "excludedAttributes=members" in rec.sent[-3][1]
    client.remove_members("Eng", [f"a@{DOMAIN}"])
    remove = ops(rec.sent[-1])[0]
    assert remove["op"] == "Remove" and remove["value"] == [
        {"value": client.user_id(f"a@{DOMAIN}")}
    ]
    assert team_members(app, acme, "Eng") == set()


def test_unknown_people_and_groups_are_a_lookup_error(app, acme):
    client, _ = client_for(app, acme, "okta")
    with pytest.raises(LookupError, match="no SCIM user"):
        client.deactivate(f"ghost@{DOMAIN}")
    with pytest.raises(LookupError, match="no SCIM group"):
        client.rename_group("Ghosts", "Spirits")


def test_a_refused_request_raises_with_the_answer(app, acme):
    client = SimulatedSCIMClient.for_app(app, "not-a-token")
    with pytest.raises(SCIMRequestFailed) as caught:
        client.assign(f"a@{DOMAIN}")
    assert caught.value.reply.status == 401 and client.log[-1].status == 401
    assert caught.value.reply.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_too_many_requests_are_sent_again_after_retry_after(database_url, backend):
    with sample_app_on(database_url, backend, OKTA_SCIM_RATE_LIMIT="3/second") as app:
        org = ready_organization(app, "Acme", TestIdP(), domains=[DOMAIN])
        client, rec = client_for(app, org, "okta")
        client.assign_many([f"p{n}@{DOMAIN}" for n in range(6)])  # 12 requests
        assert len(client.log) == 12 and all(s.status in (200, 201) for s in client.log)
        assert len(rec.sent) > 12  # some were answered 429 and sent again
        client.max_retries = 0
        with pytest.raises(SCIMRequestFailed, match="429"):
            for n in range(10):
                client.assign(f"q{n}@{DOMAIN}")


# -- the ready organization ------------------------------------------------------------------


def test_sign_in_goes_through_the_real_acs_sp_initiated(app, acme):
    browser = acme.sign_in(f"new.person@{DOMAIN}", next="/monitors")
    me = browser.get(f"{BASE_URL}/me").get_json()
    assert me["email"] == f"new.person@{DOMAIN}"
    with app.app_context():
        directory = okta.directory()
        account = directory.find_account(f"new.person@{DOMAIN}")
        assert directory.member_role(directory.get_organization(acme.id), account) == "member"


def test_a_refused_sign_in_raises_with_the_application_s_answer(app, acme):
    with pytest.raises(SimulatedSignInFailed) as caught:
        acme.sign_in("stranger@elsewhere.example")
    assert caught.value.response.status_code in (400, 403)


def test_another_simulator_is_not_trusted(app, acme):
    # Same issuer and SSO URL as the trusted one, another key.
    impostor = SimulatedIdP.generate(acme.idp.entity_id, acme.idp.sso_url)
    other = ReadyOrganization(app, acme.id, acme.name, acme.integration_id, impostor, None)
    with pytest.raises(SimulatedSignInFailed):
        other.sign_in(f"a@{DOMAIN}")
    with pytest.raises(RuntimeError, match="Provisioning is off"):
        other.scim()


def test_the_extension_never_imports_the_testing_kit():
    import subprocess
    import sys

    code = """
import sys
from flask import Flask
from flask_login import LoginManager, UserMixin
from flask_sqlalchemy import SQLAlchemy
from flask_okta_scim import OktaSCIM
from flask_okta_scim.sqla import AccountMixin, OrganizationMixin, TeamMixin
db = SQLAlchemy()
class Organization(db.Model, OrganizationMixin): pass
class Account(db.Model, AccountMixin, UserMixin): pass
class Team(db.Model, TeamMixin): pass
okta = OktaSCIM(db=db, account_model=Account, organization_model=Organization, team_model=Team)
app = Flask("host")
app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="x")
db.init_app(app)
okta.init_app(app)
LoginManager(app).user_loader(lambda i: None)
okta.init_admin(app, may_administer=lambda org, account: True)
app.test_cli_runner().invoke(args=["okta-scim", "simulate", "--help"])
print(sorted(m for m in sys.modules if m.startswith("flask_okta_scim.testing")))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_the_command_line_offers_the_client_s_modes():
    import importlib

    from flask_okta_scim.testing import scim_client

    assert importlib.import_module("flask_okta_scim.cli.simulate").MODES == scim_client.MODES
