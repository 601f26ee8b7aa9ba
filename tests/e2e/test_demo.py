"""``make demo`` in a real browser (issue 13): with nothing but the clone, a person signs in
through the simulated Okta's page in headless Chromium, runs the printed provisioning
scenarios and watches the teams appear in the admin console, discards what the guard held of a
mistaken mass unassignment, and the offboarded person is refused at sign-in."""

from __future__ import annotations

import re
import shlex
import typing as t

from tests.e2e.browser import Trail
from tests.sample_server import SampleServer
from tests.testing.test_demo import demo  # noqa: F401  (the served demo, as make demo makes it)

if t.TYPE_CHECKING:
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Page


def sign_in(page: Page, url: str, email: str) -> int:
    """Open the sign-in URL and choose ``email`` on the simulated Okta's page; the ACS's status."""
    page.goto(url)
    assert page.get_by_role("heading", name="Simulated Okta").is_visible()
    with page.expect_response(lambda r: r.url.endswith("/acs")) as acs:
        page.get_by_role("button", name=f"Sign in as {email}").click()
    page.wait_for_url(lambda url: "/simulated-okta/" not in url)  # the ACS's answer shown
    page.wait_for_load_state()
    return acs.value.status


def run(server: SampleServer, command: str) -> None:
    done = server.run(*shlex.split(command))
    assert done.returncode == 0, done.stderr
    assert "looks as the scenario expects" in done.stderr


def test_a_newcomer_watches_provisioning_change_the_sample_app(
    demo: tuple[SampleServer, str],  # noqa: F811  (the fixture imported above)
    context: BrowserContext,
) -> None:
    server, printed = demo
    sign_in_url = re.search(r"Sign in through 'Okta': (\S+)", printed).group(1)
    teams_url = re.search(r"admin console \((\S+/teams)", printed).group(1)
    commands = re.findall(r"^ +\S*flask --app sample_app (okta-scim simulate .+)$", printed, re.M)
    page = context.new_page()
    trail = Trail(page)

    assert sign_in(page, sign_in_url, "admin@demo.example") == 302, f"{trail}\n{server.logs()}"
    page.goto(teams_url)
    table = page.get_by_role("table")
    assert table.get_by_role("rowheader", name="Operations").is_visible()
    assert table.get_by_role("rowheader", name=re.compile("^Engineering")).count() == 0

    run(server, commands[0])  # onboarding: fifty people, three pushed groups
    page.reload()
    for team in ("Engineering", "Sales", "Support"):
        header = table.get_by_role("rowheader", name=re.compile(f"^{team}"))
        assert header.is_visible() and "managed by Okta" in header.inner_text()
    engineering = page.get_by_role("row", name=re.compile("^Engineering"))
    assert "engineer20@demo.example" in engineering.inner_text()

    run(server, commands[2])  # a mistaken mass unassignment: the guard holds most of it
    page.goto(teams_url.replace("/teams", "/provisioning"))
    assert page.get_by_role("heading", name="Held changes").is_visible()
    assert page.get_by_role("alert").filter(has_text="they are held, not applied").is_visible()
    page.get_by_label("Okta believes these changes were made").check()
    page.get_by_role("button", name="Discard held changes").click()
    page.wait_for_load_state()
    assert page.get_by_text(re.compile(r"Discarded \d+ held change")).is_visible()
    assert page.get_by_role("heading", name="Held changes").count() == 0

    run(server, commands[1])  # offboarding: finance4 leaves
    leaver = context.browser.new_context() if context.browser else None
    assert leaver is not None
    try:
        other = leaver.new_page()
        assert sign_in(other, sign_in_url, "finance4@demo.example") in (400, 403)
        assert other.get_by_role("heading").first.is_visible()
        assert other.request.get(server.url("/me")).status == 401
    finally:
        leaver.close()
