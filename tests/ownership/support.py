"""The cast and helpers of the account ownership suite: organizations with their own Okta
(SAML) and their own SCIM token, people, browsers, and the command line.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass

from flask import Flask

from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.conftest import ScimClient
from tests.conftest import okta_cli_ok
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import me
from tests.saml_idp import post_acs

#: The victim organization's Okta (the default test key).
A_IDP = TestIdP()
#: The attacker organization's own Okta: another key (same kind of entity ID).
B_IDP = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT, entity_id=OKTA_ENTITY_ID)

#: Seconds a DNS check may take in this suite (the resolver's whole budget).
DNS_TIMEOUT = 0.5


# -- organizations --------------------------------------------------------------------------


@dataclass
class Org:
    """An organization with a configured, connected Okta connection, SCIM on, and one team."""

    app: Flask
    org_id: t.Any
    name: str
    integration_id: str
    idp: TestIdP
    token: str
    team_id: t.Any

    @property
    def scim(self) -> ScimClient:
        return ScimClient(self.app, self.token)

    def sso(self, client: t.Any, email: str, **kwargs: t.Any) -> t.Any:
        """An IdP-initiated sign-in of ``email`` through this organization's own Okta."""
        xml = self.idp.for_connection(self.integration_id, email, **kwargs)
        return post_acs(client, self.integration_id, xml)


def make_org(app: Flask, name: str, idp: TestIdP, *, domains: t.Sequence[str] = ()) -> Org:
    """An organization whose Okta is ``idp``, provisioning on, a team pre-approving ``domains``."""
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        org = d.create_organization(name)
        connection = d.connect(org)
        d.configure_connection(
            connection,
            idp_entity_id=idp.entity_id,
            idp_sso_url=OKTA_SSO_URL,
            certificates=[idp.certificate],
        )
        d.mark_connected(connection)
        token = d.enable_provisioning(org)
        team = d.create_team(org, f"{name} Ops")
        for domain in domains:
            d.add_team_domain(team, domain)
        return Org(app, org.id, name, connection.integration_id, idp, token, team.id)


# -- people ---------------------------------------------------------------------------------


def signed_up(app: Flask, org: Org, email: str, password: str) -> t.Any:
    """A person who made their own account (own password), then joined ``org`` and its team."""
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        account, created = d.ensure_account(email)
        assert created
        account.set_password(password)
        organization = d.get_organization(org.org_id)
        d.add_member(organization, account)
        d.add_team_members(d.get_team(organization, org.team_id), [account])
        return account.id


def join_team(app: Flask, org: Org, email: str) -> None:
    """Put ``email`` (a member of ``org`` already) in ``org``'s team, as its admin would."""
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        organization = d.get_organization(org.org_id)
        d.add_team_members(d.get_team(organization, org.team_id), [d.find_account(email)])


def verify_by_operator(app: Flask, org: Org, domain: str) -> None:
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        check = d.verify_domain(d.get_organization(org.org_id), domain, None, by_operator=True)
        assert check.verified


@dataclass(frozen=True)
class AccountState:
    id: t.Any
    email: str
    display_name: str | None
    password_hash: str | None
    organizations: tuple[str, ...]
    teams: tuple[str, ...]
    disabled: bool = False


def account_state(app: Flask, email: str) -> AccountState | None:
    """What there is of the account of ``email`` (``None`` if there is none)."""
    with app.app_context():
        d = okta.directory()
        account = d.find_account(email)
        if account is None:
            return None
        return AccountState(
            account.id,
            account.email,
            account.display_name,
            account.password_hash,
            tuple(o.name for o in d.organizations_of(account)),
            tuple(sorted(team.name for team in d.teams_of(account))),
            d.is_disabled(account),
        )


def has_password(app: Flask, email: str, password: str) -> bool:
    with app.app_context():
        account = okta.directory().find_account(email)
        return account is not None and account.check_password(password)


def manager_of(app: Flask, email: str) -> t.Any:
    with app.app_context():
        d = okta.directory()
        return d.managing_organization_id(d.find_account(email))


# -- browsers -------------------------------------------------------------------------------


def password_login(client: t.Any, email: str, password: str) -> t.Any:
    return client.post(f"{BASE_URL}/login", data={"email": email, "password": password})


def who(client: t.Any) -> dict[str, t.Any] | None:
    """``/me`` of the browser: its JSON, or ``None`` when nobody is signed in (401)."""
    response = me(client)
    if response.status_code == 401:
        return None
    assert response.status_code == 200, response.get_data(as_text=True)
    return t.cast(dict[str, t.Any], response.json)


def acts_in(client: t.Any) -> list[str]:
    """The organizations ``/me`` says the session may act in (names)."""
    got = who(client)
    return [] if got is None else [o["name"] for o in got["organizations"]]


def add_monitor(client: t.Any, org: Org, name: str = "probe") -> int:
    """Add a monitor to ``org``'s team: 302 when added; 401 when the browser is signed out
    (the sample app then redirects to its sign-in page); 403 when refused."""
    response = client.post(
        f"{BASE_URL}/teams/{org.team_id}/monitors", data={"name": name, "url": "https://x.example"}
    )
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return 401
    return t.cast(int, response.status_code)


# -- the command line -----------------------------------------------------------------------


def audit_entries(app: Flask, org_ref: t.Any, *args: str) -> list[dict[str, t.Any]]:
    """``flask okta-scim audit ORG --json``: the organization's entries, oldest first."""
    out = okta_cli_ok(app, "audit", str(org_ref), "--json", *args)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def domain_list(app: Flask, org_ref: t.Any) -> list[dict[str, t.Any]]:
    return t.cast(
        list[dict[str, t.Any]], json.loads(okta_cli_ok(app, "domain", "list", str(org_ref)))
    )


def claim(app: Flask, org_ref: t.Any, domain: str) -> tuple[str, str]:
    """``domain add``: the TXT record to publish, (name, value)."""
    out = okta_cli_ok(app, "domain", "add", str(org_ref), domain).splitlines()
    assert len(out) == 2, out
    return out[0], out[1]
