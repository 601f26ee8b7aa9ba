"""The customer admin console in a real browser, against a real IdP (issue 12).

A customer's admin follows the setup guide (``docs/admin-guide.rst``) through the
console's screens in headless Chromium, driven the way a screen reader user drives them:
by role and accessible name (``get_by_role("button", name="Connect")``,
``get_by_label("Metadata URL")``), not by CSS selector. The identity provider is
SimpleSAMLphp; the app is the sample app served by ``flask run`` with
``OKTA_SCIM_METADATA_ALLOW_PRIVATE`` (the IdP's metadata link is plain http on
loopback) and a DNS server on loopback for domain verification.

- Single sign-on: **Connect**, read the **Integration ID**, register it at the IdP (Okta's
  side), paste the **Metadata URL**, **Allow IdP-initiated sign-in**, **Save**; then
  **Test sign-in** through the IdP's login form and back: *Connected*, and the page says
  so; a failed test says why.
- Provisioning: **Enable provisioning**, the **Bearer token** shown once works for a real
  SCIM request, is gone from the page when opened again; **Rotate token**; **Disable
  provisioning** stops the token.
- Teams: a team's **Pre-approved domains**; a newcomer of that domain signs in through
  the IdP and is on the Teams page (just-in-time provisioning).
- Domains: **Add domain** shows the TXT record; **Verify** checks it through DNS.
- The SSO form's failure paths, each an inline alert that changes nothing.
- A member who is not an admin gets 403 on every screen; a POST without the CSRF token
  is refused.
- Keyboard only: the SSO form filled in and saved, a copy button used.
- Accessibility and layout: a copy is announced to screen readers, an input error marks
  and describes the field it is about, no screen scrolls sideways (the audit table
  scrolls inside itself).

Every test has an organization of its own (all made at once, through the directory API,
when the module starts), so that tests do not depend on one another or on their order.

Screenshots for the docs (``docs/_static/admin-*.png``) are written only with
``OKTA_SCIM_SCREENSHOTS=1``; the app's and the IdP's loopback URLs are replaced by
example addresses and the bearer token by dots first.

Needs ``php``, SimpleSAMLphp and Chromium (``.ci/install-e2e.sh``) and ``playwright``:
skipped when they are missing, failed under ``OKTA_SCIM_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import typing as t
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.cert_factory import make_certificate
from tests.cert_factory import private_key
from tests.dns_server import LoopbackDNS
from tests.e2e import simplesamlphp
from tests.e2e.browser import DESKTOP
from tests.e2e.browser import PHONE
from tests.e2e.browser import SP_HOST
from tests.e2e.browser import Trail
from tests.e2e.browser import explain
from tests.e2e.browser import fresh_context
from tests.e2e.browser import sign_in_at_idp
from tests.e2e.browser import wait_for_url
from tests.e2e.simplesamlphp import IdpUser
from tests.e2e.simplesamlphp import SimpleSAMLphp
from tests.sample_server import COMMAND_TIMEOUT
from tests.sample_server import REQUEST_TIMEOUT
from tests.sample_server import ROOT
from tests.sample_server import SampleServer
from tests.sample_server import free_port

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Locator
    from playwright.sync_api import Page

PREFIX = "/okta-scim/admin"
#: Every account's password for the sample's own sign-in (/login).
PASSWORD = "a long sample password"
SCREENSHOTS = os.environ.get("OKTA_SCIM_SCREENSHOTS") == "1"
STATIC = ROOT / "docs" / "_static"
#: What the screenshots show instead of the loopback URLs.
EXAMPLE_APP_URL = "https://app.example.com"
EXAMPLE_METADATA_URL = "https://acme.okta.com/app/exk1abc2def3GHI4j5d7/sso/saml/metadata"
#: An Okta sign-on URL (its entity ID is derived from it), for the certificate cases.
OKTA_SSO_URL = "https://acme.okta.com/app/acme_uptime_1/exk1abc2def3GHI4j5d7/sso/saml"

# The people the IdP knows. Each organization's admin signs in with a password first, and
# through the IdP under the same email for "Test sign-in".
ADA = IdpUser("ada", "secret", "ada@acme.example", "Ada", "Lovelace")
GRACE = IdpUser("grace", "secret", "grace@globex.example", "Grace", "Hopper")
ALAN = IdpUser("alan", "secret", "alan@hooli.example", "Alan", "Turing")
BARBARA = IdpUser("barbara", "secret", "barbara@initech.example", "Barbara", "Liskov")
EDSGER = IdpUser("edsger", "secret", "edsger@initech.example", "Edsger", "Dijkstra")
KEN = IdpUser("ken", "secret", "ken@tyrell.example", "Ken", "Thompson")
# Known to the IdP, but no organization admits evil.example.
MALLORY = IdpUser("mallory", "secret", "mallory@evil.example", "Mallory", "Evil")
IDP_USERS = [ADA, GRACE, ALAN, BARBARA, EDSGER, KEN, MALLORY]


@dataclass(frozen=True)
class Org:
    """One organization of the module: its admin, and who else is in it."""

    name: str
    admin: str
    members: tuple[str, ...] = ()
    team: str | None = None


ACME = Org("Acme", ADA.email)  # the single sign-on walk-through
GLOBEX = Org("Globex", GRACE.email)  # the bearer token
HOOLI = Org("Hooli", ALAN.email)  # disabling provisioning
INITECH = Org("Initech", BARBARA.email, team="Engineering")  # just-in-time provisioning
UMBRELLA = Org("Umbrella", "linus@umbrella.example")  # the SSO form's failure paths
SOYLENT = Org("Soylent", "margaret@soylent.example")  # keyboard only
WONKA = Org("Wonka", "dennis@wonka.example")  # domains
STARK = Org("Stark", "tony@stark.example", members=("bob@stark.example",))  # who gets in
TYRELL = Org("Tyrell", KEN.email)  # a failed Test sign-in
ORGS = [ACME, GLOBEX, HOOLI, INITECH, UMBRELLA, SOYLENT, WONKA, STARK, TYRELL]


# -- the IdP, the DNS server, the app --------------------------------------------------------


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleSAMLphp]:
    with simplesamlphp.serving(tmp_path_factory.mktemp("simplesamlphp"), IDP_USERS) as server:
        yield server


@pytest.fixture(scope="module")
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS() as server:
        yield server


@pytest.fixture(scope="module")
def app_server(
    idp: SimpleSAMLphp,
    browser: Browser,
    dns: LoopbackDNS,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SampleServer]:
    """The sample app on a new SQLite file (started after the IdP and the browser)."""
    tmp_path = tmp_path_factory.mktemp("sample_app")
    server = SampleServer(
        f"sqlite:///{tmp_path / 'app.sqlite'}",
        tmp_path / "flask-run.log",
        base_url=f"http://{SP_HOST}:{{port}}",
        env={
            "FLASK_OKTA_SCIM_METADATA_ALLOW_PRIVATE": "true",
            "FLASK_OKTA_SCIM_DNS_NAMESERVERS": json.dumps([dns.address]),
            "FLASK_OKTA_SCIM_DNS_PORT": str(dns.port),
            "FLASK_OKTA_SCIM_DNS_TIMEOUT": "2",
        },
    )
    server.ok("init-db")
    with server:
        yield server


# Run in the app's environment: every organization, its admin and members with the
# password, and its team, through the directory service (the CLI sets no password).
SETUP = """
import json, sys
from sample_app import create_app
from sample_app.models import okta

orgs, password = json.loads(sys.argv[1]), sys.argv[2]
out = {}
with create_app().app_context():
    for spec in orgs:
        with okta.directory(actor="e2e-setup").atomic() as directory:
            org = directory.create_organization(spec["name"])
            people = [(spec["admin"], "admin")] + [(m, "member") for m in spec["members"]]
            accounts = []
            for email, role in people:
                account, _ = directory.ensure_account(email)
                account.set_password(password)
                directory.add_member(org, account, role=role)
                accounts.append(account)
            if spec["team"]:
                directory.create_team(org, spec["team"], members=accounts)
        out[spec["name"]] = org.id
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Made:
    """An organization as made: its id."""

    id: int


@pytest.fixture(scope="module")
def orgs(app_server: SampleServer) -> dict[str, Made]:
    """Every organization of :data:`ORGS`, made in one process, by name."""
    spec = [{"name": o.name, "admin": o.admin, "members": o.members, "team": o.team} for o in ORGS]
    done = subprocess.run(
        [sys.executable, "-c", SETUP, json.dumps(spec), PASSWORD],
        cwd=ROOT,
        env=app_server.env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    made = json.loads(done.stdout)
    return {name: Made(org_id) for name, org_id in made.items()}


# -- the console, as a person uses it --------------------------------------------------------


def expect(what: t.Any) -> t.Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(what)


def console(app: SampleServer, org: Made, screen: str) -> str:
    return app.url(f"{PREFIX}/{org.id}/{screen}")


def sign_in_with_password(page: Page, app: SampleServer, email: str) -> None:
    """The sample's own sign-in form, by its labels."""
    page.goto(app.url("/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(app.url("/"))


def sso_status(page: Page) -> Locator:
    """The "Okta SSO" section, which says "Status: ..."."""
    return page.get_by_role("region", name="Okta SSO")


def field(page: Page, label: str) -> Locator:
    """The one field labelled exactly ``label``.

    Exact, as a careful acceptance test would be; the console's names do not contain one
    another anyway (copy buttons are named "Copy", the SP's link "SP metadata link").
    """
    return page.get_by_label(label, exact=True)


def connect(page: Page, idp: SimpleSAMLphp) -> str:
    """Single sign-on: **Connect**; register the integration at the IdP (Okta's side).

    Returns the Integration ID, read from its read-only field.
    """
    page.get_by_role("button", name="Connect").click()
    integration_id = field(page, "Integration ID").input_value()
    # Okta's catalog app does this from the Integration ID: the SP's entity ID and ACS.
    idp.add_sp(field(page, "Entity ID").input_value(), field(page, "ACS URL").input_value())
    return integration_id


def configure(page: Page, idp: SimpleSAMLphp) -> None:
    """Paste the IdP's metadata link, **Save**; the page then says *Configured*."""
    field(page, "Metadata URL").fill(idp.metadata_url_for_this_machine())
    page.get_by_role("button", name="Save", exact=True).click()
    expect(sso_status(page)).to_contain_text("Status: Configured")


def press_test_sign_in(
    page: Page, app: SampleServer, idp: SimpleSAMLphp, user: IdpUser, *, succeeds: bool = True
) -> None:
    """**Test sign-in**: through the IdP's login form as ``user``, back on the SSO screen,
    which says how it went (role=status): *Connected*, or why not."""
    trail = Trail(page)

    def why() -> str:
        return explain(app, idp, trail)

    back = page.url.split("?")[0] + ("?test=1" if succeeds else "?test=failed")
    acs_url = field(page, "ACS URL").input_value()
    page.get_by_role("button", name="Test sign-in").click()
    acs = sign_in_at_idp(page, idp, user, acs_url, why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    wait_for_url(page, back, why)
    if succeeds:
        expect(page.get_by_role("status")).to_have_text(
            f"Test sign-in succeeded: you signed in through Okta as {user.email}."
        )
        expect(sso_status(page)).to_contain_text("Status: Connected")


def connected(page: Page, app: SampleServer, idp: SimpleSAMLphp, org: Made, user: IdpUser) -> None:
    """The whole single sign-on setup, from the admin's password session: *Connected*."""
    page.goto(console(app, org, "sso"))
    connect(page, idp)
    configure(page, idp)
    press_test_sign_in(page, app, idp, user)


def scim_users(app: SampleServer, scim_base_url: str, token: str) -> int:
    """``GET <SCIM base URL>/Users`` with the bearer token, as Okta sends it: the status."""
    path = urllib.parse.urlsplit(scim_base_url).path.rstrip("/") + "/Users?count=1"
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(
            "GET",
            path,
            headers={
                "Host": app.host,
                "Authorization": f"Bearer {token}",
                "Accept": "application/scim+json",
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def screenshot(page: Page, name: str, app: SampleServer, idp: SimpleSAMLphp, *secrets: str) -> None:
    """``docs/_static/admin-<name>.png`` of the page as shown, with OKTA_SCIM_SCREENSHOTS=1.

    First, in the page only: the app's and the IdP's loopback URLs become example
    addresses, and each of ``secrets`` (a bearer token) becomes dots.
    """
    if not SCREENSHOTS:
        return
    replacements = {
        app.base_url: EXAMPLE_APP_URL,
        idp.metadata_url_for_this_machine(): EXAMPLE_METADATA_URL,
        **{secret: "\u2022" * 32 for secret in secrets},
    }
    page.evaluate(
        """(pairs) => {
          const swap = (s) => pairs.reduce((acc, [a, b]) => acc.split(a).join(b), s);
          for (const e of document.querySelectorAll("input, textarea")) e.value = swap(e.value);
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) {
            walker.currentNode.nodeValue = swap(walker.currentNode.nodeValue);
          }
        }""",
        list(replacements.items()),
    )
    page.screenshot(path=str(STATIC / f"admin-{name}.png"), animations="disabled", caret="hide")


# -- Single sign-on ----------------------------------------------------------------------------


def test_single_sign_on_from_connect_to_connected(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, orgs: dict[str, Made]
) -> None:
    """The guide's SSO steps: Connect, the Integration ID, Okta's side, the metadata link,
    Allow IdP-initiated sign-in, Save (*Configured*), Test sign-in (*Connected*)."""
    page = context.new_page()
    acme = orgs[ACME.name]
    sign_in_with_password(page, app_server, ADA.email)
    page.goto(console(app_server, acme, "sso"))
    expect(page.get_by_role("heading", name="Single sign-on", level=1)).to_be_visible()
    expect(sso_status(page)).to_contain_text("Status: Not set up")
    screenshot(page, "sso-not-set-up", app_server, idp)

    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("status")).to_contain_text("Enter the Integration ID in Okta")
    integration = field(page, "Integration ID")
    expect(integration).not_to_be_editable()
    integration_id = integration.input_value()
    assert re.fullmatch(r"[a-z0-9]{16,}", integration_id), integration_id
    # The values for Okta, each built from the Integration ID.
    sign_in_url = field(page, "Sign in URL").input_value()
    assert sign_in_url == app_server.url(f"/users/sign-in/sso/okta/{integration_id}")
    assert field(page, "ACS URL").input_value() == sign_in_url + "/acs"
    assert field(page, "Entity ID").input_value() == sign_in_url + "/metadata"
    assert field(page, "SP metadata link").input_value() == sign_in_url + "/metadata"
    # Okta's side: the SP entry of this integration at the IdP.
    idp.add_sp(sign_in_url + "/metadata", sign_in_url + "/acs")
    # Nothing to test before the IdP is known.
    expect(page.get_by_role("button", name="Test sign-in")).to_have_count(0)

    field(page, "Metadata URL").fill(idp.metadata_url_for_this_machine())
    allow = page.get_by_role("checkbox", name="Allow IdP-initiated sign-in")
    allow.check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(sso_status(page)).to_contain_text("Status: Configured")
    expect(allow).to_be_checked()
    expect(field(page, "Metadata URL")).to_have_value(idp.metadata_url_for_this_machine())
    expect(page.get_by_role("heading", name="Signing certificates")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="SimpleSAMLphp test IdP")).to_have_count(1)

    press_test_sign_in(page, app_server, idp, ADA)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(sso_status(page)).to_contain_text("last sign-in")
    screenshot(page, "sso", app_server, idp)
    if SCREENSHOTS:
        page.set_viewport_size(PHONE)
        screenshot(page, "sso-phone", app_server, idp)
        page.set_viewport_size(DESKTOP)
        page.get_by_role("heading", name="Values for Okta").scroll_into_view_if_needed()
        screenshot(page, "sso-values", app_server, idp)
    status = app_server.cli_json("sso", "show", str(acme.id))
    assert (status["status"], status["allow_idp_initiated"]) == ("connected", True), status

    # Every step is in the organization's audit log, newest first.
    page.get_by_role("navigation", name="Okta settings").get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    rows = page.get_by_role("row")
    expect(rows.filter(has_text="sso.login")).not_to_have_count(0)
    expect(rows.filter(has_text="sso.configure")).to_have_count(1)
    expect(rows.filter(has_text=re.compile(r"sso\.connect(?!ed)"))).to_have_count(1)
    expect(rows.filter(has_text="sso.connected")).to_have_count(1)
    screenshot(page, "audit", app_server, idp)


def test_a_failed_test_sign_in_says_why(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, orgs: dict[str, Made]
) -> None:
    """Somebody the organization does not admit signs in at the IdP: back on the SSO screen,
    which says that the test failed and why, also under "Last failed sign-in"."""
    page = context.new_page()
    sign_in_with_password(page, app_server, KEN.email)
    page.goto(console(app_server, orgs[TYRELL.name], "sso"))
    connect(page, idp)
    configure(page, idp)
    press_test_sign_in(page, app_server, idp, MALLORY, succeeds=False)
    result = page.get_by_role("alert")
    expect(result).to_contain_text("Test sign-in failed: ")
    reason = result.inner_text().removeprefix("Test sign-in failed: ").rstrip(".")
    assert reason, result.inner_text()
    expect(sso_status(page)).to_contain_text("Last failed sign-in")
    expect(sso_status(page)).to_contain_text(reason)
    expect(sso_status(page)).to_contain_text("Status: Configured")
    # The admin's own session is untouched, and nobody was let in.
    expect(page.get_by_role("banner")).to_contain_text(KEN.email)
    assert app_server.cli_json("user", "show", MALLORY.email) is None

    # Opened again later: no test result, the last failure still shown.
    page.goto(console(app_server, orgs[TYRELL.name], "sso"))
    expect(page.get_by_role("status")).to_have_count(0)
    expect(sso_status(page)).to_contain_text("Last failed sign-in")


# -- Provisioning ------------------------------------------------------------------------------


def test_bearer_token_is_shown_once_works_and_rotates(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, orgs: dict[str, Made]
) -> None:
    page = context.new_page()
    globex = orgs[GLOBEX.name]
    sign_in_with_password(page, app_server, GRACE.email)
    page.goto(console(app_server, globex, "provisioning"))
    enable = page.get_by_role("button", name="Enable provisioning")
    expect(enable).to_be_disabled()  # single sign-on first
    connected(page, app_server, idp, globex, GRACE)

    page.get_by_role("navigation", name="Okta settings").get_by_role(
        "link", name="Provisioning"
    ).click()
    expect(page.get_by_role("heading", name="Provisioning", level=1)).to_be_visible()
    expect(enable).to_be_enabled()
    enable.click()
    token_field = field(page, "Bearer token")
    expect(token_field).not_to_be_editable()
    token = token_field.input_value()
    assert len(token) >= 32, token
    expect(page.get_by_role("region", name="New token")).to_contain_text(
        "you will not see it again"
    )
    scim_base_url = field(page, "SCIM base URL").input_value()
    assert scim_base_url == app_server.url("/scim/v2"), scim_base_url
    assert scim_users(app_server, scim_base_url, token) == 200
    screenshot(page, "provisioning", app_server, idp, token)

    # Opened again: on, and the token is not on the page.
    page.goto(console(app_server, globex, "provisioning"))
    expect(page.get_by_role("region", name="SCIM provisioning")).to_contain_text("Status: On")
    expect(field(page, "Bearer token")).to_have_count(0)
    assert token not in page.content()

    page.get_by_role("button", name="Rotate token").click()
    rotated = field(page, "Bearer token").input_value()
    assert rotated != token
    assert scim_users(app_server, scim_base_url, rotated) == 200

    # A reload sends the POST again: no second token; the one just copied keeps working.
    page.reload()
    notice = page.get_by_role("status").filter(has_text="no new token was issued")
    expect(notice).to_have_count(1)
    expect(field(page, "Bearer token")).to_have_count(0)
    assert scim_users(app_server, scim_base_url, rotated) == 200


def test_disable_provisioning_stops_the_token(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, orgs: dict[str, Made]
) -> None:
    page = context.new_page()
    hooli = orgs[HOOLI.name]
    sign_in_with_password(page, app_server, ALAN.email)
    connected(page, app_server, idp, hooli, ALAN)
    page.goto(console(app_server, hooli, "provisioning"))
    page.get_by_role("button", name="Enable provisioning").click()
    token = field(page, "Bearer token").input_value()
    scim_base_url = field(page, "SCIM base URL").input_value()
    assert scim_users(app_server, scim_base_url, token) == 200

    page.get_by_role("button", name="Disable provisioning").click()
    expect(page.get_by_role("status")).to_contain_text("Provisioning is off")
    expect(page.get_by_role("region", name="SCIM provisioning")).to_contain_text("Status: Off")
    expect(page.get_by_role("button", name="Enable provisioning")).to_be_enabled()
    assert scim_users(app_server, scim_base_url, token) == 401


# -- Teams: just-in-time provisioning ---------------------------------------------------------


def test_pre_approved_domain_admits_a_newcomer(
    browser: Browser,
    context: BrowserContext,
    app_server: SampleServer,
    idp: SimpleSAMLphp,
    orgs: dict[str, Made],
) -> None:
    """Teams, Configure, Pre-approved domains, Save; a newcomer of the domain signs in
    through the IdP in a browser of their own and is on the Teams page."""
    page = context.new_page()
    initech = orgs[INITECH.name]
    sign_in_with_password(page, app_server, BARBARA.email)
    page.goto(console(app_server, initech, "sso"))
    connect(page, idp)
    configure(page, idp)
    sign_in_url = field(page, "Sign in URL").input_value()
    acs_url = field(page, "ACS URL").input_value()

    nav = page.get_by_role("navigation", name="Okta settings")
    nav.get_by_role("link", name="Teams").click()
    team_row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Engineering"))
    expect(team_row).to_contain_text(BARBARA.email)
    expect(team_row).not_to_contain_text(EDSGER.email)
    team_row.get_by_role("link", name="Configure").click()
    expect(page.get_by_role("heading", name="Engineering", level=1)).to_be_visible()
    domains = field(page, "Pre-approved domains")
    domains.fill("initech.example")
    screenshot(page, "team", app_server, idp)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved the pre-approved domains")
    expect(team_row).to_contain_text("initech.example")

    with fresh_context(browser, viewport=DESKTOP) as newcomer:
        their_page = newcomer.new_page()
        trail = Trail(their_page)

        def why() -> str:
            return explain(app_server, idp, trail)

        their_page.goto(sign_in_url + "?next=/me")
        acs = sign_in_at_idp(their_page, idp, EDSGER, acs_url, why)
        assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
        wait_for_url(their_page, app_server.url("/me"), why)
        me = json.loads(their_page.inner_text("body"))
        assert me["email"] == EDSGER.email, me

    page.reload()
    expect(team_row).to_contain_text(EDSGER.email)
    screenshot(page, "teams", app_server, idp)


# -- Domains -----------------------------------------------------------------------------------


def test_add_domain_shows_the_txt_record_and_verify_checks_it(
    context: BrowserContext,
    app_server: SampleServer,
    idp: SimpleSAMLphp,
    dns: LoopbackDNS,
    orgs: dict[str, Made],
) -> None:
    page = context.new_page()
    sign_in_with_password(page, app_server, WONKA.admin)
    page.goto(console(app_server, orgs[WONKA.name], "domains"))
    field(page, "Domain").fill("wonka.example")
    page.get_by_role("button", name="Add domain").click()
    expect(page.get_by_role("status")).to_contain_text("Publish the TXT record")
    expect(page.get_by_role("heading", name="wonka.example")).to_contain_text("not verified")
    name = field(page, "TXT record name").input_value()
    value = field(page, "TXT record value").input_value()
    assert name.endswith(".wonka.example"), name
    screenshot(page, "domains", app_server, idp)

    # Not published yet: refused, with the reason.
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("wonka.example is not verified")

    dns.set_txt(name, value)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("status")).to_contain_text("wonka.example is verified")
    expect(page.get_by_role("heading", name="wonka.example")).not_to_contain_text("not verified")
    expect(field(page, "TXT record name")).to_have_count(0)


# -- The SSO form's failure paths --------------------------------------------------------------


NO_SIGNING_KEY = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    entityID="http://www.okta.com/exkNOSIGNINGKEY">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="https://acme.okta.com/app/acme_uptime_1/exkNOSIGNINGKEY/sso/saml"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


@pytest.fixture(scope="module")
def metadata_without_key() -> Iterator[str]:
    """The URL of IdP metadata that has no signing certificate, served on loopback."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = NO_SIGNING_KEY.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: t.Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/app/exkNOSIGNINGKEY/sso/saml/metadata"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def umbrella(
    browser: Browser, app_server: SampleServer, idp: SimpleSAMLphp, orgs: dict[str, Made]
) -> Made:
    """Umbrella, connected and configured with the IdP's metadata link (not signed in yet)."""
    with fresh_context(browser, viewport=DESKTOP) as ctx:
        page = ctx.new_page()
        sign_in_with_password(page, app_server, UMBRELLA.admin)
        page.goto(console(app_server, orgs[UMBRELLA.name], "sso"))
        connect(page, idp)
        configure(page, idp)
    return orgs[UMBRELLA.name]


def weak_certificate() -> str:
    return make_certificate(private_key("rsa", 1024), cn="Weak Okta IdP")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("certificate that does not parse", "not an X.509 certificate"),
        ("weak certificate", "1024"),
        ("metadata URL that does not answer", "could not be fetched"),
        ("metadata without a signing key", "signing certificate"),
    ],
)
def test_bad_identity_provider_input_is_an_inline_error_and_changes_nothing(
    context: BrowserContext,
    app_server: SampleServer,
    umbrella: Made,
    metadata_without_key: str,
    case: str,
    message: str,
) -> None:
    page = context.new_page()
    sign_in_with_password(page, app_server, UMBRELLA.admin)
    sso_page = console(app_server, umbrella, "sso")
    page.goto(sso_page)
    before = {
        "status": sso_status(page).inner_text(),
        "metadata URL": field(page, "Metadata URL").input_value(),
        "certificates": page.get_by_role("list").filter(has_text="expires").inner_text(),
        "Okta values": page.get_by_role("region", name="Values for Okta").inner_text(),
    }
    assert "Status: Configured" in before["status"], before

    if case == "certificate that does not parse":
        field(page, "Metadata URL").fill("")
        field(page, "SSO URL").fill(OKTA_SSO_URL)
        field(page, "X.509 certificate").fill("-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
    elif case == "weak certificate":
        field(page, "Metadata URL").fill("")
        field(page, "SSO URL").fill(OKTA_SSO_URL)
        field(page, "X.509 certificate").fill(weak_certificate())
    elif case == "metadata URL that does not answer":
        closed = free_port()  # nothing listens there
        field(page, "Metadata URL").fill(f"http://127.0.0.1:{closed}/app/exk1/sso/saml/metadata")
    else:
        field(page, "Metadata URL").fill(metadata_without_key)
    page.get_by_role("checkbox", name="Allow IdP-initiated sign-in").uncheck()
    page.get_by_role("button", name="Save", exact=True).click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(message)
    expect(page.get_by_role("status")).to_have_count(0)  # no "Saved"

    page.goto(sso_page)
    after = {
        "status": sso_status(page).inner_text(),
        "metadata URL": field(page, "Metadata URL").input_value(),
        "certificates": page.get_by_role("list").filter(has_text="expires").inner_text(),
        "Okta values": page.get_by_role("region", name="Values for Okta").inner_text(),
    }
    assert after == before
    expect(page.get_by_role("checkbox", name="Allow IdP-initiated sign-in")).to_be_checked()


# -- Who gets in -------------------------------------------------------------------------------


SCREENS = ["sso", "provisioning", "teams", "domains", "audit"]


def test_a_member_who_is_not_an_admin_gets_403_on_every_screen(
    context: BrowserContext, app_server: SampleServer, orgs: dict[str, Made]
) -> None:
    page = context.new_page()
    sign_in_with_password(page, app_server, "bob@stark.example")
    stark = orgs[STARK.name]
    for screen in SCREENS:
        response = page.goto(console(app_server, stark, screen))
        assert response is not None and response.status == 403, (screen, response)
        expect(page.get_by_role("button", name="Connect")).to_have_count(0)


def test_a_post_without_the_csrf_token_is_refused(
    context: BrowserContext, app_server: SampleServer, orgs: dict[str, Made]
) -> None:
    """The admin's own browser posts **Connect** without the form's token: 400, nothing made."""
    page = context.new_page()
    sign_in_with_password(page, app_server, STARK.admin)
    stark = orgs[STARK.name]
    page.goto(console(app_server, stark, "sso"))
    connect_url = console(app_server, stark, "sso/connect")
    post = """async ([url, token]) => {
        const body = new URLSearchParams(token ? {csrf_token: token} : {});
        const r = await fetch(url, {method: "POST", body, credentials: "same-origin"});
        return r.status;
    }"""
    # (Playwright's page.request cannot reach sp.localhost: only Chromium maps the name.)
    assert page.evaluate(post, [connect_url, None]) == 400
    page.reload()
    expect(sso_status(page)).to_contain_text("Status: Not set up")
    expect(field(page, "Integration ID")).to_have_count(0)
    # The same request with the page's token is accepted: the token was what was missing.
    token = page.locator("form").filter(has=page.get_by_role("button", name="Connect"))
    value = token.locator("input[name=csrf_token]").input_value()
    assert page.evaluate(post, [connect_url, value]) == 200  # after the redirect
    page.reload()
    expect(field(page, "Integration ID")).to_have_count(1)


# -- Keyboard ----------------------------------------------------------------------------------

#: The focused element: its role-ish tag and its accessible name (aria-label, label, text).
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const label = e.getAttribute("aria-label")
    || (e.labels && e.labels.length ? e.labels[0].textContent : "")
    || e.textContent || "";
  return e.tagName.toLowerCase() + ":" + label.trim().replace(/\\s+/g, " ");
}"""


def tab_to(page: Page, target: str, limit: int = 60) -> list[str]:
    """Press Tab until ``target`` (``tag:name``) has the focus: the elements passed."""
    passed: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        passed.append(focused)
        if focused == target:
            return passed
    raise AssertionError(f"Tab never reached {target}: {passed}")


def test_the_sso_form_with_the_keyboard_only(
    browser: Browser, app_server: SampleServer, idp: SimpleSAMLphp, orgs: dict[str, Made]
) -> None:
    """Tab to Connect, Enter; Tab to the copy button, Enter: copied; Tab through the form in
    reading order, type the link, Space on the checkbox, Enter on Save."""
    with fresh_context(
        browser, viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"]
    ) as ctx:
        page = ctx.new_page()
        sign_in_with_password(page, app_server, SOYLENT.admin)
        page.goto(console(app_server, orgs[SOYLENT.name], "sso"))

        tab_to(page, "button:Connect")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        expect(field(page, "Integration ID")).to_be_visible()
        integration_id = field(page, "Integration ID").input_value()
        # Okta's side, so that the IdP's metadata link is accepted below.
        idp.add_sp(field(page, "Entity ID").input_value(), field(page, "ACS URL").input_value())

        tab_to(page, "button:Copy")  # the first: the Integration ID's
        page.keyboard.press("Enter")
        expect(page.get_by_title("Copy the Integration ID")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == integration_id

        order = tab_to(page, "button:Save")
        form = [
            "input:Metadata URL",
            "input:SSO URL",
            "textarea:X.509 certificate",
            "input:Allow IdP-initiated sign-in",
            "button:Save",
        ]
        assert [name for name in order if name in form] == form, order
        # Each control shows where the focus is.
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("", "none"), outline

        # Back to the first field, and through the form with the keyboard alone.
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(FOCUSED) == "input:Metadata URL"
        page.keyboard.type(idp.metadata_url_for_this_machine())
        tab_to(page, "input:Allow IdP-initiated sign-in")
        allow = page.get_by_role("checkbox", name="Allow IdP-initiated sign-in")
        expect(allow).to_be_checked()
        page.keyboard.press("Space")
        expect(allow).not_to_be_checked()
        tab_to(page, "button:Save")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Saved")
        expect(sso_status(page)).to_contain_text("Status: Configured")
        expect(allow).not_to_be_checked()


# -- Accessibility and layout ------------------------------------------------------------------


def test_a_screen_reader_hears_that_a_value_was_copied(
    browser: Browser, app_server: SampleServer, umbrella: Made
) -> None:
    with fresh_context(
        browser, viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"]
    ) as ctx:
        page = ctx.new_page()
        sign_in_with_password(page, app_server, UMBRELLA.admin)
        page.goto(console(app_server, umbrella, "sso"))
        page.get_by_title("Copy the Integration ID").click()
        expect(page.get_by_title("Copy the Integration ID")).to_have_text("Copied")
        # Announced through a polite live region next to the button.
        announced = page.locator('[aria-live="polite"]').filter(has_text="Copied to the clipboard")
        expect(announced).to_have_count(1, timeout=2000)


def test_a_certificate_error_describes_the_certificate_field(
    context: BrowserContext, app_server: SampleServer, umbrella: Made
) -> None:
    page = context.new_page()
    sign_in_with_password(page, app_server, UMBRELLA.admin)
    page.goto(console(app_server, umbrella, "sso"))
    field(page, "Metadata URL").fill("")
    field(page, "SSO URL").fill(OKTA_SSO_URL)
    field(page, "X.509 certificate").fill(weak_certificate())
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("1024")
    certificate = field(page, "X.509 certificate")
    expect(certificate).to_have_attribute("aria-invalid", "true", timeout=1000)
    expect(certificate).to_have_accessible_description(re.compile("1024"), timeout=1000)
    expect(field(page, "Metadata URL")).not_to_have_accessible_description(
        re.compile("1024"), timeout=1000
    )


def scrolls_sideways(page: Page) -> bool:
    return t.cast(
        bool,
        page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        ),
    )


def test_no_screen_scrolls_sideways(
    context: BrowserContext, app_server: SampleServer, umbrella: Made
) -> None:
    """Each screen fits a laptop's and a phone's width (WCAG 1.4.10, reflow): only its
    tables may scroll inside themselves."""
    page = context.new_page()
    sign_in_with_password(page, app_server, UMBRELLA.admin)
    wide = []
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        for screen in ["sso", "provisioning", "teams", "domains"]:
            page.goto(console(app_server, umbrella, screen))
            if scrolls_sideways(page):
                wide.append((screen, viewport["width"]))
    assert wide == []


def test_the_audit_screen_does_not_scroll_sideways_on_a_laptop(
    context: BrowserContext, app_server: SampleServer, umbrella: Made
) -> None:
    page = context.new_page()
    sign_in_with_password(page, app_server, UMBRELLA.admin)
    page.goto(console(app_server, umbrella, "audit"))
    expect(page.get_by_role("row").filter(has_text="sso.configure")).to_have_count(1)
    assert not scrolls_sideways(page)
