"""Headless Chromium for the end-to-end tests: the browser fixtures and browser helpers.

Shared by the SAML sign-in suite (``tests/saml/test_e2e.py``) and the admin console's
walk-through (``tests/e2e/``, whose ``conftest.py`` has the ``browser`` and ``context``
fixtures made of :func:`chromium` and :func:`fresh_context`).

Debian's Chromium is driven by Playwright, which is never asked to download a browser.
The app is reached at ``http://sp.localhost:<port>`` and the IdP at
``http://idp.localhost:<port>``: distinct host names make the IdP's POST to the ACS
cross-site, as Okta's is. Chromium maps both names to 127.0.0.1 itself
(``--host-resolver-rules``); this machine's resolver need not know them. A missing
browser skips the test, or fails it under ``OKTA_SCIM_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import re
import typing as t
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import service_missing

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Page
    from playwright.sync_api import Response

    from tests.e2e.simplesamlphp import IdpUser
    from tests.e2e.simplesamlphp import SimpleSAMLphp
    from tests.sample_server import SampleServer

SP_HOST = "sp.localhost"
IDP_HOST = "idp.localhost"
CHROMIUM = os.environ.get("OKTA_SCIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {IDP_HOST} 127.0.0.1,MAP {SP_HOST} 127.0.0.1",
]
#: Viewports: a laptop's (the docs' screenshots are this size) and a phone's.
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Milliseconds for one browser step (the app's timeouts are in tests.sample_server).
BROWSER_TIMEOUT_MS = 20_000


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium, closed on exit; a skip (or failure) when it cannot run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("playwright is not installed (pip install playwright; no browser download)")
    if not os.access(CHROMIUM, os.X_OK):
        service_missing(
            f"Chromium is not installed at {CHROMIUM}; install it with .ci/install-e2e.sh"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def fresh_context(browser: Browser, **options: t.Any) -> Iterator[BrowserContext]:
    """A new browser profile (no cookies) with the suite's timeouts, closed on exit.

    ``options`` are Playwright's ``new_context`` options (``viewport``...).
    """
    ctx = browser.new_context(**options)
    ctx.set_default_timeout(BROWSER_TIMEOUT_MS)
    ctx.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


class Trail:
    """The main frame's navigations (method, URL, status), for assertions and failure messages."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.steps: list[tuple[str, str, int]] = []
        page.on("response", self._record)

    def _record(self, response: Response) -> None:
        request = response.request
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.steps.append((request.method, response.url, response.status))

    def __str__(self) -> str:
        return "\n".join(f"  {m} {u} -> {s}" for m, u, s in self.steps) or "  (none)"


def explain(app: SampleServer, idp: SimpleSAMLphp, *trails: Trail) -> str:
    """What a failure message needs: each tab's navigations, the servers' logs."""
    tabs = "".join(f"navigations (tab {i + 1}):\n{trail}\n" for i, trail in enumerate(trails))
    return f"{tabs}{app.logs()}\n{idp.logs()}"


def sign_in_at_idp(
    page: Page, idp: SimpleSAMLphp, user: IdpUser, acs_url: str, why: Callable[[], str]
) -> Response:
    """Fill in SimpleSAMLphp's login form; its page then posts to the ACS: that response."""
    try:
        page.wait_for_selector("#username")
    except Exception as e:
        raise AssertionError(f"no IdP login form at {page.url}: {e}\n{why()}") from e
    assert page.url.startswith(idp.base_url), f"not at the IdP: {page.url}\n{why()}"
    page.fill("#username", user.username)
    page.fill("#password", user.password)
    try:
        with page.expect_response(
            lambda r: r.url == acs_url and r.request.method == "POST"
        ) as acs_response:
            page.click("#submit_button")
    except Exception as e:
        raise AssertionError(f"the IdP did not post to the ACS {acs_url}: {e}\n{why()}") from e
    return acs_response.value


def wait_for_url(page: Page, url: str | re.Pattern[str], why: Callable[[], str]) -> None:
    try:
        page.wait_for_url(url)
    except Exception as e:
        raise AssertionError(f"did not arrive at {url} (at {page.url}): {e}\n{why()}") from e
