"""SAML sign-in end to end: a real IdP (SimpleSAMLphp), a real browser (Chromium), a real server.

The sample app runs with ``flask run`` on a SQLite file and is set up the way an operator
does it, through the ``flask okta-scim`` command line: an organization, a team that
pre-approves ``example.com``, an Okta connection whose SP values are registered at the
IdP, and the IdP's metadata URL. Headless Chromium (Debian's, driven by Playwright) then
signs people in:

- SP-initiated, from the app's sign-in URL with ``?next=/me``, through SimpleSAMLphp's
  login form and its auto-posting page back to the ACS — including as Chromium behaves
  once a person has spent more than two minutes at the IdP (cookies without
  ``SameSite=None`` are no longer sent on the cross-site POST, ``reference/saml.md`` §4.4);
- IdP-initiated, from SimpleSAMLphp's unsolicited-response URL (as an Okta dashboard tile);
- SP-initiated in two tabs at once, each landing on its own ``next``;
- IdP-initiated with a RelayState, followed only when it is a path on the app, and
  refused once the organization turns IdP-initiated sign-in off;
- a person whose email domain no team pre-approves, who gets a 403 page and no session;
- refusals: a browser that lost the cookie binding its request, a replayed Response.

Before those, two checks of the set-up: SimpleSAMLphp serves its metadata and Chromium
reaches its login form; the app's SP metadata agrees with ``sso show``.

The app is at ``http://sp.localhost:<port>``, the IdP at ``http://idp.localhost:<port>``:
distinct host names make the POST to the ACS cross-site, as Okta's is; Chromium maps both
names to 127.0.0.1, and both servers listen on 127.0.0.1 only.

Needs ``php``, SimpleSAMLphp and Chromium from Debian (``.ci/install-e2e.sh``) and the
``playwright`` package (which is never asked to download a browser). Each test skips,
saying what is missing, when they are absent — or fails under
``OKTA_SCIM_REQUIRE_SERVICES=1``. Every wait is bounded.
"""

from __future__ import annotations

import html
import typing as t
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e import simplesamlphp
from tests.e2e.browser import BROWSER_TIMEOUT_MS
from tests.e2e.browser import SP_HOST
from tests.e2e.browser import Trail
from tests.e2e.browser import explain
from tests.e2e.browser import sign_in_at_idp
from tests.e2e.browser import wait_for_url
from tests.e2e.simplesamlphp import IdpUser
from tests.e2e.simplesamlphp import SimpleSAMLphp
from tests.sample_server import SampleServer

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Page

# One app and one organization serve the whole module; each test signs in people of its
# own (or asserts only what holds whatever ran before), so that tests do not depend on
# one another or on their order.
ADA = IdpUser("ada", "secret", "ada@example.com", "Ada", "Lovelace")
GRACE = IdpUser("grace", "secret", "grace@example.com", "Grace", "Hopper")
ALAN = IdpUser("alan", "secret", "alan@example.com", "Alan", "Turing")
BARBARA = IdpUser("barbara", "secret", "barbara@example.com", "Barbara", "Liskov")
MALLORY = IdpUser("mallory", "secret", "mallory@evil.example", "Mallory", "Evil")
IDP_USERS = [ADA, GRACE, ALAN, BARBARA, MALLORY]
ORGANIZATION = "Acme"
TEAM = "Engineering"
DOMAIN = "example.com"


@pytest.fixture(scope="module")
def idp_users() -> list[IdpUser]:
    """The people SimpleSAMLphp knows (the ``idp`` fixture is in ``conftest.py``)."""
    return IDP_USERS


# -- the app, as an operator runs and sets it up -------------------------------------------------


@dataclass
class Tenant:
    """The organization set up for single sign-on: ids from the CLI and ``sso show``."""

    org_id: str
    team_id: str
    sso: dict[str, t.Any]

    @property
    def integration_id(self) -> str:
        return t.cast(str, self.sso["integration_id"])


@pytest.fixture(scope="module")
def app_server(
    idp: SimpleSAMLphp, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SampleServer]:
    """The app on a new SQLite file (started after the IdP and the browser: no start for a skip)."""
    tmp_path = tmp_path_factory.mktemp("sample_app")
    server = SampleServer(
        f"sqlite:///{tmp_path / 'app.sqlite'}",
        tmp_path / "flask-run.log",
        base_url=f"http://{SP_HOST}:{{port}}",
        env={"FLASK_OKTA_SCIM_METADATA_ALLOW_PRIVATE": "true"},
    )
    server.ok("init-db")
    with server:
        yield server


@pytest.fixture(scope="module")
def tenant(app_server: SampleServer, idp: SimpleSAMLphp) -> Tenant:
    """Acme: a team pre-approving example.com, connected to SimpleSAMLphp as an admin would."""
    cli = app_server.cli
    org_id = cli("org", "create", ORGANIZATION)
    team_id = cli("team", "create", org_id, TEAM)
    cli("team", "add-domain", org_id, team_id, DOMAIN)
    integration_id = cli("sso", "connect", org_id)
    sso = app_server.cli_json("sso", "show", org_id)
    assert sso["integration_id"] == integration_id, sso
    # Okta's side of the setup: the app's ACS URL and entity ID ("Audience URI").
    idp.add_sp(sso["sp_entity_id"], sso["acs_url"])
    cli("sso", "configure", org_id, "--metadata-url", idp.metadata_url_for_this_machine())
    sso = app_server.cli_json("sso", "show", org_id)
    assert sso["status"] == "configured", sso
    return Tenant(org_id, team_id, sso)


# -- browser helpers -----------------------------------------------------------------------------


def get_me(page: Page, app: SampleServer) -> tuple[int, t.Any]:
    """``/me`` in the browser (its cookies): ``(status, JSON)``."""
    response = page.goto(app.url("/me"))
    assert response is not None
    return response.status, response.json()


def app_cookies(context: BrowserContext) -> list[t.Any]:
    """Every cookie the browser holds for the app's host, whatever its path."""
    return [c for c in context.cookies() if c.get("domain", "").lstrip(".") == SP_HOST]


def expire_lax_grace(context: BrowserContext, *, also_none: bool = False) -> list[str]:
    """Make the app's cookies behave as in Chromium after two minutes at the IdP.

    Chromium sends a cookie set without ``SameSite`` on a cross-site top-level POST only
    within two minutes of setting it ("Lax+POST"); afterwards, and always for an explicit
    ``SameSite=Lax``, it is left out. Re-setting every app cookie that is not
    ``SameSite=None`` as explicitly ``Lax`` reproduces the slow person without waiting.
    ``also_none`` downgrades the ``SameSite=None`` ones too (a browser that drops them).
    Returns the names of the cookies changed.
    """
    cookies = app_cookies(context)
    changed = [c for c in cookies if also_none or c.get("sameSite") != "None"]
    if changed:
        context.clear_cookies(domain=SP_HOST)
        context.add_cookies([{**c, "sameSite": "Lax"} if c in changed else c for c in cookies])
    return [c["name"] for c in changed]


def user_show(app: SampleServer, email: str) -> t.Any:
    return app.cli_json("user", "show", email)


def assert_jit_member(app: SampleServer, tenant: Tenant, email: str) -> None:
    account = user_show(app, email)
    assert account is not None and account["email"] == email, account
    orgs = {str(o["id"]): o for o in account["organizations"]}
    assert tenant.org_id in orgs, account
    assert orgs[tenant.org_id]["name"] == ORGANIZATION
    teams = {str(team["id"]): team["name"] for team in orgs[tenant.org_id]["teams"]}
    assert teams == {tenant.team_id: TEAM}, account


def assert_signed_in_through_sso(page: Page, app: SampleServer, tenant: Tenant, email: str) -> None:
    status, me = get_me(page, app)
    assert status == 200, me
    assert me["email"] == email, me
    assert me["sso_organization"] is not None, me
    assert str(me["sso_organization"]["id"]) == tenant.org_id, me
    assert me["sso_organization"]["name"] == ORGANIZATION, me


# -- the harness itself --------------------------------------------------------------------------


def test_idp_serves_metadata_and_login_form(idp: SimpleSAMLphp, context: BrowserContext) -> None:
    """SimpleSAMLphp answers with signed-IdP metadata, and Chromium reaches its login form."""
    status, metadata = idp.fetch("saml2/idp/metadata.php")
    assert status == 200, metadata
    assert idp.entity_id.encode() in metadata
    assert b"<ds:X509Certificate>" in metadata
    assert f'Location="{idp.sso_url}"'.encode() in metadata
    assert b"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" in metadata

    entity_id = "http://sp.localhost:1/harness-check"
    idp.add_sp(entity_id, "http://sp.localhost:1/acs")
    page = context.new_page()
    response = page.goto(idp.idp_initiated_url(entity_id))
    assert response is not None and response.status == 200, idp.logs()
    assert page.url.startswith(idp.base_url + "module.php/core/loginuserpass.php"), page.url
    page.wait_for_selector("#username")
    page.wait_for_selector("#password")
    page.wait_for_selector("#submit_button")


def test_sp_metadata_matches_sso_show(app_server: SampleServer, tenant: Tenant) -> None:
    """The metadata the admin would give Okta has the entity ID and ACS of ``sso show``."""
    assert tenant.sso["sp_entity_id"] == tenant.sso["sp_metadata_url"]
    base = app_server.url(f"/users/sign-in/sso/okta/{tenant.integration_id}")
    assert tenant.sso["sign_in_url"] == base
    assert tenant.sso["acs_url"] == base + "/acs"
    assert tenant.sso["sp_metadata_url"] == base + "/metadata"
    status, xml = app_server.fetch(tenant.sso["sp_metadata_url"])
    assert status == 200, xml
    sp = simplesamlphp.sp_from_metadata(xml)
    assert (sp.entity_id, sp.acs_url) == (tenant.sso["sp_entity_id"], tenant.sso["acs_url"])


# -- sign-in -------------------------------------------------------------------------------------


def test_sp_initiated_sign_in(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, tenant: Tenant
) -> None:
    """From the app's sign-in URL to ``/me``, through the IdP's login form; JIT membership."""
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    page.goto(tenant.sso["sign_in_url"] + "?next=/me")
    # HTTP-Redirect binding: the app's 302 leads to the IdP's SSO URL with a SAMLRequest.
    assert trail.steps[:1] == [("GET", tenant.sso["sign_in_url"] + "?next=/me", 302)], why()
    assert trail.steps[1][1].startswith(idp.sso_url + "?SAMLRequest="), why()
    acs = sign_in_at_idp(page, idp, ADA, tenant.sso["acs_url"], why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    wait_for_url(page, app_server.url("/me"), why)
    assert_signed_in_through_sso(page, app_server, tenant, ADA.email)
    assert_jit_member(app_server, tenant, ADA.email)
    assert app_server.cli_json("sso", "show", tenant.org_id)["status"] == "connected"


def test_sp_initiated_sign_in_after_two_minutes_at_the_idp(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, tenant: Tenant
) -> None:
    """The request binding survives the cross-site POST once Chromium's Lax grace has passed."""
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    page.goto(tenant.sso["sign_in_url"] + "?next=/me")
    page.wait_for_selector("#username")
    assert app_cookies(context), "the sign-in set no cookie to bind the request to the browser"
    expire_lax_grace(context)
    acs = sign_in_at_idp(page, idp, GRACE, tenant.sso["acs_url"], why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}: {acs.text()[:500]}\n{why()}"
    wait_for_url(page, app_server.url("/me"), why)
    assert_signed_in_through_sso(page, app_server, tenant, GRACE.email)


def test_sp_initiated_sign_ins_in_two_tabs(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, tenant: Tenant
) -> None:
    """Two sign-ins started in two tabs both complete, each to its own ``next``."""
    first, second = context.new_page(), context.new_page()
    trails = [Trail(first), Trail(second)]

    def why() -> str:
        return explain(app_server, idp, *trails)

    first.goto(tenant.sso["sign_in_url"] + "?next=/me")
    second.goto(tenant.sso["sign_in_url"] + "?next=/")
    acs = sign_in_at_idp(second, idp, ADA, tenant.sso["acs_url"], why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    wait_for_url(second, app_server.url("/"), why)
    acs = sign_in_at_idp(first, idp, ADA, tenant.sso["acs_url"], why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    wait_for_url(first, app_server.url("/me"), why)
    assert_signed_in_through_sso(first, app_server, tenant, ADA.email)


def test_idp_initiated_sign_in(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, tenant: Tenant
) -> None:
    """An unsolicited Response (an Okta dashboard tile) signs the person in and lands on ``/``."""
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    page.goto(idp.idp_initiated_url(tenant.sso["sp_entity_id"]))
    acs = sign_in_at_idp(page, idp, ALAN, tenant.sso["acs_url"], why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    wait_for_url(page, app_server.url("/"), why)
    assert_signed_in_through_sso(page, app_server, tenant, ALAN.email)
    assert_jit_member(app_server, tenant, ALAN.email)


def test_idp_initiated_sign_in_refused_when_turned_off(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, tenant: Tenant
) -> None:
    """With ``sso idp-initiated ORG off`` an unsolicited Response gives no session."""
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    app_server.cli("sso", "idp-initiated", tenant.org_id, "off")
    try:
        assert app_server.cli_json("sso", "show", tenant.org_id)["allow_idp_initiated"] is False
        page.goto(idp.idp_initiated_url(tenant.sso["sp_entity_id"]))
        acs = sign_in_at_idp(page, idp, ALAN, tenant.sso["acs_url"], why)
        assert acs.status == 403, f"ACS answered {acs.status}\n{why()}"
        wait_for_url(page, tenant.sso["acs_url"], why)
        status, me = get_me(page, app_server)
        assert status == 401, me
    finally:
        app_server.cli("sso", "idp-initiated", tenant.org_id, "on")


@pytest.mark.parametrize(
    ("relay_state", "landing"),
    [
        ("/me", "/me"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
    ],
)
def test_idp_initiated_relay_state(
    context: BrowserContext,
    app_server: SampleServer,
    idp: SimpleSAMLphp,
    tenant: Tenant,
    relay_state: str,
    landing: str,
) -> None:
    """RelayState is followed only when it is a path on the app (no open redirect)."""
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    page.goto(idp.idp_initiated_url(tenant.sso["sp_entity_id"], relay_state))
    acs = sign_in_at_idp(page, idp, ALAN, tenant.sso["acs_url"], why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    wait_for_url(page, app_server.url(landing), why)
    assert_signed_in_through_sso(page, app_server, tenant, ALAN.email)


def test_sign_in_refused_for_a_domain_no_team_pre_approves(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, tenant: Tenant
) -> None:
    """mallory@evil.example gets a 403 page telling her to ask her admin; nothing is created."""
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    page.goto(tenant.sso["sign_in_url"] + "?next=/me")
    acs = sign_in_at_idp(page, idp, MALLORY, tenant.sso["acs_url"], why)
    assert acs.status == 403, f"ACS answered {acs.status}\n{why()}"
    wait_for_url(page, tenant.sso["acs_url"], why)
    assert "admin" in page.inner_text("body").lower(), page.content()
    status, me = get_me(page, app_server)
    assert status == 401, me
    assert user_show(app_server, MALLORY.email) is None


def test_sign_in_refused_when_the_browser_lost_the_binding_cookie(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, tenant: Tenant
) -> None:
    """A response to a request this browser cannot be shown to have started gives no session.

    Also checks the set-up itself: the IdP's POST is cross-site, so a ``SameSite=Lax``
    cookie stays behind (on one site it would ride along and this would sign in).
    """
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    page.goto(tenant.sso["sign_in_url"] + "?next=/me")
    page.wait_for_selector("#username")
    assert expire_lax_grace(context, also_none=True), "the sign-in set no cookie"
    acs = sign_in_at_idp(page, idp, BARBARA, tenant.sso["acs_url"], why)
    assert acs.status == 403, f"ACS answered {acs.status}\n{why()}"
    wait_for_url(page, tenant.sso["acs_url"], why)
    status, me = get_me(page, app_server)
    assert status == 401, me
    assert user_show(app_server, BARBARA.email) is None


def test_replayed_response_is_refused(
    browser: Browser,
    context: BrowserContext,
    app_server: SampleServer,
    idp: SimpleSAMLphp,
    tenant: Tenant,
) -> None:
    """A Response captured from one sign-in and posted again from another browser: 403."""
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    page.goto(idp.idp_initiated_url(tenant.sso["sp_entity_id"]))
    acs = sign_in_at_idp(page, idp, ALAN, tenant.sso["acs_url"], why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    form = urllib.parse.parse_qs(acs.request.post_data or "")
    assert "SAMLResponse" in form, acs.request.post_data

    other = browser.new_context()
    try:
        other.set_default_timeout(BROWSER_TIMEOUT_MS)
        attacker = other.new_page()
        attacker.set_content(
            f'<form method="post" action="{html.escape(tenant.sso["acs_url"])}">'
            + "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v[0])}">'
                for k, v in form.items()
            )
            + "</form>"
        )
        with attacker.expect_navigation() as navigation:
            attacker.evaluate("document.forms[0].submit()")
        replay = navigation.value
        assert replay is not None and replay.status == 403, (replay and replay.status, why())
        status, me = get_me(attacker, app_server)
        assert status == 401, me
    finally:
        other.close()
