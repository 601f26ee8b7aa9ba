"""Signed AuthnRequests, encrypted assertions and single logout, end to end through SimpleSAMLphp.

The set-up is ``test_e2e.py``'s (the sample app served by ``flask run``, SimpleSAMLphp,
headless Chromium; ``http://sp.localhost:<port>`` and ``http://idp.localhost:<port>``), on
a PostgreSQL database of its own so that a second server process can share it. Each
option is turned on as an admin does it: ``sso sp-key generate`` makes the SP key pair,
``sso signed-requests``/``sso encrypted-assertions`` turn the option on, and the SP
metadata the app publishes (its certificate, its SLO URL) is registered at SimpleSAMLphp
with the matching flags (:mod:`tests.e2e.sp_options`), as the admin uploads it to Okta.
Two organizations, each with its own connection and key, so that one's key rotation
never touches the other's sign-ins:

- **Acme**: SimpleSAMLphp requires signed AuthnRequests (``validate.authnrequest``) and
  signed logout messages (``validate.logout``), and signs its own (``sign.logout``).
  Sign-in succeeds with signed requests on, and SimpleSAMLphp refuses the request when
  they are off or when the signature is altered. Signing out of the app ends the
  session at SimpleSAMLphp too (signing in again asks for the password), and signing
  out at SimpleSAMLphp ends the app's session.
- **Globex**: SimpleSAMLphp encrypts assertions (``assertion.encryption``) and the app
  requires them encrypted: a sign-in succeeds; a plain assertion is refused; after a
  key rotation the retired key still decrypts, and once it is removed an assertion
  still encrypted for it is refused, until the new certificate is registered.

**Two processes** (the IdP-initiated logout): a second ``flask run`` on the same
database and secret key, with the *same* public base URL as the first (two workers behind
one load balancer, as in ``test_processes.py``): the SP entity ID, ACS and SLO URL are
the first server's, so every SAML message reaches it, while the browser reaches the second
server directly at its own port. Cookies belong to a host name, not to a port, so the
browser's session cookie goes to both. The LogoutRequest lands on the first server, which
also rewrites this browser's cookie; that the session is dead on the second server too is
shown with a copy of the cookie taken before the logout (as another window holding the
same session would present it): accepted by both servers before, refused by both after.

Needs ``php``, SimpleSAMLphp and Chromium from Debian (``.ci/install-e2e.sh``), the
``playwright`` package (never asked to download a browser) and PostgreSQL. Each test
skips, saying what is missing, when they are absent — or fails under
``OKTA_SCIM_REQUIRE_SERVICES=1``. Every wait is bounded.
"""

from __future__ import annotations

import base64
import os
import re
import typing as t
import urllib.parse
import zlib
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_database
from tests.e2e.browser import SP_HOST
from tests.e2e.browser import Trail
from tests.e2e.browser import explain
from tests.e2e.browser import fresh_context
from tests.e2e.browser import sign_in_at_idp
from tests.e2e.browser import wait_for_url
from tests.e2e.simplesamlphp import RSA_SHA256
from tests.e2e.simplesamlphp import IdpUser
from tests.e2e.simplesamlphp import SimpleSAMLphp
from tests.e2e.sp_options import ENCRYPT_ASSERTIONS
from tests.e2e.sp_options import REQUIRE_SIGNED_REQUESTS
from tests.e2e.sp_options import SIGNED_LOGOUT
from tests.e2e.sp_options import IdpLog
from tests.e2e.sp_options import idp_logout_url
from tests.e2e.sp_options import register_sp
from tests.sample_server import SampleServer

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Page
    from playwright.sync_api import Response

ADA = IdpUser("ada", "secret", "ada@example.com", "Ada", "Lovelace")
GRACE = IdpUser("grace", "secret", "grace@example.com", "Grace", "Hopper")
ALAN = IdpUser("alan", "secret", "alan@example.com", "Alan", "Turing")
EDSGER = IdpUser("edsger", "secret", "edsger@example.org", "Edsger", "Dijkstra")
TEAM = "Engineering"
#: Every process of the app gets these settings (SimpleSAMLphp's metadata is on 127.0.0.1).
APP_ENV = {"FLASK_OKTA_SCIM_METADATA_ALLOW_PRIVATE": "true"}
XMLENC = "http://www.w3.org/2001/04/xmlenc#"


@pytest.fixture(scope="module")
def idp_users() -> list[IdpUser]:
    return [ADA, GRACE, ALAN, EDSGER]


# -- the app and its organizations, set up as an operator does it --------------------------------


@pytest.fixture(scope="module")
def app_server(
    idp: SimpleSAMLphp, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SampleServer]:
    """The app on a new PostgreSQL database (started after the IdP and the browser)."""
    tmp_path = tmp_path_factory.mktemp("sample_app")
    with fresh_postgres_database(f"flask_okta_scim_e2e_options_{os.getpid()}") as url:
        server = SampleServer(
            url, tmp_path / "a.log", base_url=f"http://{SP_HOST}:{{port}}", env=APP_ENV
        )
        server.ok("init-db")
        with server:
            yield server


@dataclass
class Tenant:
    """An organization connected to SimpleSAMLphp: ``sso show`` and the IdP flags it needs."""

    org_id: str
    sso: dict[str, t.Any]
    idp_flags: tuple[dict[str, t.Any], ...]

    @property
    def sign_in_url(self) -> str:
        return t.cast(str, self.sso["sign_in_url"])

    @property
    def acs_url(self) -> str:
        return t.cast(str, self.sso["acs_url"])

    @property
    def slo_url(self) -> str:
        return t.cast(str, self.sso["slo_url"])

    @property
    def entity_id(self) -> str:
        return t.cast(str, self.sso["sp_entity_id"])


def set_up_tenant(
    app: SampleServer,
    idp: SimpleSAMLphp,
    name: str,
    domain: str,
    options: tuple[str, ...],
    idp_flags: tuple[dict[str, t.Any], ...],
) -> Tenant:
    """An organization pre-approving ``domain``, with an SP key and ``options`` turned on."""
    cli = app.cli
    org_id = cli("org", "create", name)
    team_id = cli("team", "create", org_id, TEAM)
    cli("team", "add-domain", org_id, team_id, domain)
    cli("sso", "connect", org_id)
    certificate = cli("sso", "sp-key", "generate", org_id)
    assert certificate.startswith("-----BEGIN CERTIFICATE-----"), certificate
    cli("sso", "configure", org_id, "--metadata-url", idp.metadata_url_for_this_machine())
    for option in options:
        cli("sso", option, org_id, "on")
    tenant = Tenant(org_id, app.cli_json("sso", "show", org_id), idp_flags)
    assert tenant.sso["status"] == "configured", tenant.sso
    # The IdP's SLO URL came from its metadata: the app can sign people out there.
    assert tenant.sso["idp_slo_url"] == idp.base_url + "saml2/idp/SingleLogoutService.php"
    metadata = register(app, idp, tenant)
    assert pem_body(certificate) in metadata.decode(), "the SP metadata lacks the new certificate"
    return tenant


@pytest.fixture(scope="module")
def acme(app_server: SampleServer, idp: SimpleSAMLphp) -> Tenant:
    """Signed requests on; SimpleSAMLphp requires them and signs and checks logout messages."""
    tenant = set_up_tenant(
        app_server,
        idp,
        "Acme",
        "example.com",
        ("signed-requests",),
        (REQUIRE_SIGNED_REQUESTS, SIGNED_LOGOUT),
    )
    assert tenant.sso["sign_requests"] is True, tenant.sso
    return tenant


@pytest.fixture(scope="module")
def globex(app_server: SampleServer, idp: SimpleSAMLphp) -> Tenant:
    """Encrypted assertions required; SimpleSAMLphp encrypts them for the SP certificate."""
    tenant = set_up_tenant(
        app_server, idp, "Globex", "example.org", ("encrypted-assertions",), (ENCRYPT_ASSERTIONS,)
    )
    assert tenant.sso["encrypt_assertions"] is True, tenant.sso
    return tenant


def register(
    app: SampleServer,
    idp: SimpleSAMLphp,
    tenant: Tenant,
    *,
    flags: tuple[dict[str, t.Any], ...] | None = None,
) -> bytes:
    """Register the SP metadata the app publishes now at the IdP, with the tenant's flags.

    ``flags`` replaces the tenant's. Returns the metadata.
    """
    status, metadata = app.fetch(tenant.sso["sp_metadata_url"])
    assert status == 200, metadata
    register_sp(idp, metadata, *(tenant.idp_flags if flags is None else flags))
    return metadata


# -- helpers -------------------------------------------------------------------------------------


def pem_body(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if "-----" not in line)


def me_at(page: Page, url: str) -> tuple[int, t.Any]:
    """``/me`` at ``url`` in this page's browser profile: ``(status, JSON)``."""
    response = page.goto(url)
    assert response is not None
    return response.status, response.json()


def app_cookies(context: BrowserContext) -> list[t.Any]:
    return [c for c in context.cookies() if c.get("domain", "").lstrip(".") == SP_HOST]


def query_of(url: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


def step_to(trail: Trail, prefix: str, why: Callable[[], str]) -> tuple[str, str, int]:
    """The first navigation of ``trail`` to a URL starting with ``prefix``."""
    found = [step for step in trail.steps if step[1].startswith(prefix)]
    assert found, f"no navigation to {prefix}\n{why()}"
    return found[0]


def posted_response(acs: Response) -> bytes:
    """The SAML Response (XML) the IdP's page posted to the ACS."""
    form = urllib.parse.parse_qs(acs.request.post_data or "")
    return base64.b64decode(form["SAMLResponse"][0])


def redirect_message(url: str, parameter: str) -> bytes:
    """The XML of an HTTP-Redirect binding message (DEFLATE, base64) in ``url``."""
    return zlib.decompress(base64.b64decode(query_of(url)[parameter][0]), -15)


def with_altered_signature(url: str) -> str:
    """``url`` with one bit of its ``Signature`` flipped; every other byte as it was."""
    parts = urllib.parse.urlsplit(url)
    query = []
    for part in parts.query.split("&"):
        name, _, value = part.partition("=")
        if name == "Signature":
            raw = bytearray(base64.b64decode(urllib.parse.unquote(value)))
            raw[len(raw) // 2] ^= 0x01
            part = "Signature=" + urllib.parse.quote(base64.b64encode(bytes(raw)), safe="")
        query.append(part)
    return urllib.parse.urlunsplit(parts._replace(query="&".join(query)))


def refusal_logged(page: Page, app: SampleServer) -> str:
    """The app's log line for the refusal this error page shows (by the page's reference)."""
    found = re.search(r"Reference: ([0-9a-f]{12})", page.inner_text("body"))
    assert found, page.content()
    lines = [line for line in app.logs(200_000).splitlines() if f"[{found[1]}]" in line]
    assert lines, f"no log line for reference {found[1]}\n{app.logs()}"
    return lines[0]


def sign_in(
    page: Page, idp: SimpleSAMLphp, tenant: Tenant, user: IdpUser, why: Callable[[], str]
) -> Response:
    """From the tenant's sign-in URL (``next=/me``) through the IdP's form: the ACS's answer."""
    page.goto(tenant.sign_in_url + "?next=/me")
    return sign_in_at_idp(page, idp, user, tenant.acs_url, why)


def assert_signed_in(page: Page, app: SampleServer, user: IdpUser, why: Callable[[], str]) -> None:
    wait_for_url(page, app.url("/me"), why)
    status, me = me_at(page, app.url("/me"))
    assert status == 200, f"{me}\n{why()}"
    assert me["email"] == user.email, me
    assert me["sso_organization"] is not None, me


# -- 1. signed AuthnRequests ---------------------------------------------------------------------


def test_signed_authn_request_accepted_and_checked_by_the_idp(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, acme: Tenant
) -> None:
    """The request is signed (RSA-SHA256); SimpleSAMLphp verifies it with the SP certificate."""
    register(app_server, idp, acme)
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    log = IdpLog(idp)
    page.goto(acme.sign_in_url + "?next=/me")
    page.wait_for_selector("#username")
    to_idp = step_to(trail, idp.sso_url + "?", why)[1]
    query = query_of(to_idp)
    assert query["SigAlg"] == [RSA_SHA256], to_idp
    assert query["Signature"], to_idp
    assert "Validation with key #0 succeeded." in log.text(), why()

    # SimpleSAMLphp really checks it: the same request, one bit of its signature changed.
    other = context.new_page()
    log = IdpLog(idp)
    other.goto(with_altered_signature(to_idp))  # SimpleSAMLphp's error page answers 200
    refusal = "Unable to validate signature on query string."
    assert refusal in other.inner_text("body"), other.content()
    assert other.locator("#username").count() == 0, other.content()
    assert f"Validation with key #0 failed with exception: {refusal}" in log.text(), log.text()
    other.close()

    acs = sign_in_at_idp(page, idp, ADA, acme.acs_url, why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    assert_signed_in(page, app_server, ADA, why)


def test_unsigned_authn_request_refused_by_the_idp(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, acme: Tenant
) -> None:
    """With ``signed-requests off`` SimpleSAMLphp, which requires them, refuses the request."""
    register(app_server, idp, acme)
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    app_server.cli("sso", "signed-requests", acme.org_id, "off")
    try:
        log = IdpLog(idp)
        page.goto(acme.sign_in_url + "?next=/me")
        url = step_to(trail, idp.sso_url + "?", why)[1]
        assert "Signature" not in query_of(url) and "SigAlg" not in query_of(url), url
        assert page.locator("#username").count() == 0, page.content()
        refusal = "Validation of received messages enabled, but no signature found on message."
        assert refusal in page.inner_text("body"), page.content()
        assert refusal in log.text(), log.text()
    finally:
        app_server.cli("sso", "signed-requests", acme.org_id, "on")
    status, me = me_at(page, app_server.url("/me"))
    assert status == 401, me


# -- 2. encrypted assertions ---------------------------------------------------------------------


def assert_encrypted(xml: bytes) -> None:
    """The Response carries its assertion encrypted (AES-CBC, RSA-OAEP key transport) only."""
    assert b"EncryptedAssertion" in xml, xml[:2000]
    assert not re.search(rb"<(\w+:)?Assertion[\s>]", xml), "a plain assertion was sent too"
    assert f'Algorithm="{XMLENC}aes128-cbc"'.encode() in xml, xml[:3000]
    assert f'Algorithm="{XMLENC}rsa-oaep-mgf1p"'.encode() in xml, xml[:3000]


@contextmanager
def signing_in(
    browser: Browser, app: SampleServer, idp: SimpleSAMLphp, tenant: Tenant, user: IdpUser
) -> Iterator[tuple[Response, Page, Callable[[], str]]]:
    """A sign-in in a fresh browser profile, closed afterwards: the ACS's answer, the page,
    and what a failure message needs."""
    with fresh_context(browser) as context:
        page = context.new_page()
        trail = Trail(page)

        def why() -> str:
            return explain(app, idp, trail)

        yield sign_in(page, idp, tenant, user, why), page, why


def assert_refused(page: Page, app: SampleServer, acs: Response, why: Callable[[], str]) -> str:
    """The ACS refused with its error page and no session; the reason the app logged."""
    assert acs.status == 403, f"ACS answered {acs.status}\n{why()}"
    assert "Sign-in failed" in page.inner_text("body"), page.content()
    reason = refusal_logged(page, app)
    status, me = me_at(page, app.url("/me"))
    assert status == 401, me
    return reason


def test_encrypted_assertion_accepted(
    browser: Browser, app_server: SampleServer, idp: SimpleSAMLphp, globex: Tenant
) -> None:
    """SimpleSAMLphp encrypts for the SP certificate; the app decrypts and signs the person in."""
    register(app_server, idp, globex)
    with signing_in(browser, app_server, idp, globex, EDSGER) as (acs, page, why):
        assert_encrypted(posted_response(acs))
        assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
        assert_signed_in(page, app_server, EDSGER, why)


def test_plain_assertion_refused_when_encryption_is_required(
    browser: Browser, app_server: SampleServer, idp: SimpleSAMLphp, globex: Tenant
) -> None:
    """SimpleSAMLphp not encrypting (Okta's Assertion Encryption left off): no session."""
    register(app_server, idp, globex, flags=())
    try:
        with signing_in(browser, app_server, idp, globex, EDSGER) as (acs, page, why):
            assert b"EncryptedAssertion" not in posted_response(acs)
            reason = assert_refused(page, app_server, acs, why)
            assert "the assertion is not encrypted" in reason, reason
    finally:
        register(app_server, idp, globex)


def test_assertion_for_a_removed_key_refused(
    browser: Browser, app_server: SampleServer, idp: SimpleSAMLphp, globex: Tenant
) -> None:
    """A rotation that the IdP did not follow: the retired key decrypts until it is removed.

    ``sp-key generate`` (next), ``activate`` (the old key retires): sign-in still works.
    ``remove`` the retired key: SimpleSAMLphp, still encrypting for it, is refused with a
    reason that says so. Once the new certificate is registered, sign-in works again.
    """
    register(app_server, idp, globex)
    cli, org = app_server.cli, globex.org_id
    (old,) = app_server.cli_json("sso", "sp-key", "list", org)
    assert old["state"] == "active", old
    new_certificate = cli("sso", "sp-key", "generate", org)
    cli("sso", "sp-key", "activate", org)
    states = {k["id"]: k["state"] for k in app_server.cli_json("sso", "sp-key", "list", org)}
    assert states[old["id"]] == "retired" and sorted(states.values()) == ["active", "retired"]

    with signing_in(browser, app_server, idp, globex, EDSGER) as (acs, page, why):
        assert acs.status in (302, 303), f"the retired key did not decrypt\n{why()}"
        assert_signed_in(page, app_server, EDSGER, why)

    cli("sso", "sp-key", "remove", org, str(old["id"]))
    with signing_in(browser, app_server, idp, globex, EDSGER) as (acs, page, why):
        assert_encrypted(posted_response(acs))
        reason = assert_refused(page, app_server, acs, why)
        assert "cannot be decrypted with this connection's SP keys" in reason, reason

    # The admin uploads the new certificate to the IdP: encrypted for it, accepted.
    metadata = register(app_server, idp, globex)
    assert pem_body(new_certificate) in metadata.decode()
    with signing_in(browser, app_server, idp, globex, EDSGER) as (acs, page, why):
        assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
        assert_signed_in(page, app_server, EDSGER, why)


# -- 3. single logout started at the app ---------------------------------------------------------


def test_sign_out_at_the_app_ends_the_idp_session(
    context: BrowserContext, app_server: SampleServer, idp: SimpleSAMLphp, acme: Tenant
) -> None:
    """The Sign out button: a signed LogoutRequest to SimpleSAMLphp, its answer back at /slo.

    Before, SimpleSAMLphp's session signs the person in again without a password;
    after, the app's session is gone and SimpleSAMLphp asks for the password again.
    """
    register(app_server, idp, acme)
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(app_server, idp, trail)

    acs = sign_in(page, idp, acme, GRACE, why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    assert_signed_in(page, app_server, GRACE, why)
    # While SimpleSAMLphp's session lasts, signing in again needs no password.
    trail.steps.clear()
    page.goto(acme.sign_in_url + "?next=/")
    wait_for_url(page, app_server.url("/"), why)
    assert not [s for s in trail.steps if "loginuserpass" in s[1]], why()
    assert GRACE.email in page.inner_text("header"), page.content()

    log = IdpLog(idp)
    trail.steps.clear()
    with page.expect_response(lambda r: r.url.startswith(acme.slo_url + "?")):
        page.get_by_role("button", name="Sign out").click()
    wait_for_url(page, app_server.url("/"), why)
    assert trail.steps[0] == ("POST", app_server.url("/logout"), 302), why()
    to_idp = step_to(trail, idp.base_url + "saml2/idp/SingleLogoutService.php?", why)[1]
    assert b"<samlp:LogoutRequest" in redirect_message(to_idp, "SAMLRequest"), to_idp
    assert query_of(to_idp)["SigAlg"] == [RSA_SHA256] and query_of(to_idp)["Signature"], to_idp
    back = step_to(trail, acme.slo_url + "?", why)
    assert back[2] == 302, why()
    answer = redirect_message(back[1], "SAMLResponse")
    assert b"urn:oasis:names:tc:SAML:2.0:status:Success" in answer, answer
    assert query_of(back[1])["Signature"], back[1]  # SimpleSAMLphp signs it (sign.logout)
    assert trail.steps[-1] == ("GET", app_server.url("/"), 200), why()
    text = log.text()
    assert f"Received SAML 2.0 LogoutRequest from: '{acme.entity_id}'" in text, text
    assert "Validation with key #0 succeeded." in text, text

    assert "Sign in" in page.inner_text("header"), page.content()
    status, me = me_at(page, app_server.url("/me"))
    assert status == 401, me
    # SimpleSAMLphp's session ended too: the password again.
    acs = sign_in(page, idp, acme, GRACE, why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    assert_signed_in(page, app_server, GRACE, why)


# -- 4. single logout started at the IdP, two processes ------------------------------------------


@pytest.fixture
def second_server(app_server: SampleServer, tmp_path: Path) -> Iterator[SampleServer]:
    """Another ``flask run`` on the same database with the same public base URL."""
    with SampleServer(
        app_server.database_url, tmp_path / "b.log", base_url=app_server.base_url, env=APP_ENV
    ) as server:
        yield server


def test_sign_out_at_the_idp_ends_the_session_on_every_process(
    browser: Browser,
    context: BrowserContext,
    app_server: SampleServer,
    second_server: SampleServer,
    idp: SimpleSAMLphp,
    acme: Tenant,
) -> None:
    """SimpleSAMLphp's LogoutRequest reaches one process; the session dies on both."""
    register(app_server, idp, acme)
    a, b = app_server, second_server
    me_on = {"A": a.url("/me"), "B": f"http://{SP_HOST}:{b.port}/me"}
    page = context.new_page()
    trail = Trail(page)

    def why() -> str:
        return explain(a, idp, trail) + "\n" + b.logs()

    acs = sign_in(page, idp, acme, ALAN, why)
    assert acs.status in (302, 303), f"ACS answered {acs.status}\n{why()}"
    assert_signed_in(page, a, ALAN, why)
    for name, url in me_on.items():
        status, me = me_at(page, url)
        assert status == 200 and me["email"] == ALAN.email, (name, me)
    held = app_cookies(context)  # the session, as another window holding it presents it

    def me_elsewhere() -> dict[str, int]:
        with fresh_context(browser) as other:
            other.add_cookies(held)
            tab = other.new_page()
            return {name: me_at(tab, url)[0] for name, url in me_on.items()}

    assert me_elsewhere() == {"A": 200, "B": 200}

    log = IdpLog(idp)
    trail.steps.clear()
    signed_out = idp.base_url + "logout.php"
    page.goto(idp_logout_url(idp, signed_out))
    wait_for_url(page, signed_out, why)
    request = step_to(trail, acme.slo_url + "?", why)
    assert request[2] == 302, why()
    assert b"<samlp:LogoutRequest" in redirect_message(request[1], "SAMLRequest"), request
    assert query_of(request[1])["Signature"], request  # SimpleSAMLphp signs it (sign.logout)
    answer = trail.steps[trail.steps.index(request) + 1][1]
    assert answer.startswith(idp.base_url + "saml2/idp/SingleLogoutService.php?"), why()
    assert query_of(answer)["SigAlg"] == [RSA_SHA256] and query_of(answer)["Signature"], answer
    assert "You have been logged out." in page.inner_text("body"), page.content()
    text = log.text()
    assert "Validation with key #0 succeeded." in text, text  # our signature, checked
    assert f"Received SAML 2.0 LogoutResponse from: '{acme.entity_id}'" in text, text
    assert f"Logged out of 'saml:{acme.entity_id}'." in text, text
    assert "Error received from" not in text, text

    for name, url in me_on.items():
        status, me = me_at(page, url)
        assert status == 401, (name, me)
    # B never saw the LogoutRequest; the database told it.
    assert me_elsewhere() == {"A": 401, "B": 401}
