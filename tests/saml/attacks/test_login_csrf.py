"""Login CSRF through IdP-initiated sign-in: a valid unsolicited response for the attacker's
own account, posted in a browser where someone else is signed in, signs nobody in; the
browser gets a page naming both accounts, and only its own confirmation switches.
"""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask

from tests.saml.attacks.support import ATTACKER
from tests.saml.attacks.support import VICTIM
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import audit_footprint
from tests.saml.attacks.support import good_sign_in_seconds
from tests.saml.attacks.support import sso_successes
from tests.saml.attacks.support import timed
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import sign_in_url
from tests.saml_idp import start_login

CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


def _victim_browser(app: Flask, acme: Tenant) -> t.Any:
    browser = app.test_client()
    request_id = start_login(browser, acme.integration_id)
    r = post_acs(browser, acme.integration_id, acme.response(VICTIM, in_response_to=request_id))
    assert r.status_code == 302 and me(browser).json["email"] == VICTIM
    return browser


def _confirm_value(page: str) -> str:
    found = re.search(r'name="confirm" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _continue(acme: Tenant) -> str:
    return sign_in_url(acme.integration_id) + "/continue"


def test_someone_elses_unsolicited_response_asks_and_signs_nobody_in(
    app: Flask, acme: Tenant
) -> None:
    yardstick = good_sign_in_seconds(app, acme, "first@acme.example")
    browser = _victim_browser(app, acme)
    successes = sso_successes(app, acme.org_id)
    r, seconds = timed(lambda: post_acs(browser, acme.integration_id, acme.response(ATTACKER)))
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert VICTIM in page and ATTACKER in page and "Switch accounts?" in page
    assert r.headers["X-Frame-Options"] == "DENY"
    assert me(browser).json["email"] == VICTIM, "the session was switched"
    assert sso_successes(app, acme.org_id) == successes
    assert seconds < yardstick * 3


@pytest.mark.parametrize("forged", ["", "guess", None], ids=["empty", "guessed", "missing"])
def test_a_forged_confirmation_switches_nothing(
    app: Flask, acme: Tenant, forged: str | None
) -> None:
    browser = _victim_browser(app, acme)
    post_acs(browser, acme.integration_id, acme.response(ATTACKER))
    form = {} if forged is None else {"confirm": forged}
    r = browser.post(_continue(acme), data=form)
    assert r.status_code == 400 and r.mimetype == "text/html"
    assert me(browser).json["email"] == VICTIM


def test_the_confirmation_of_another_browser_is_worthless(app: Flask, acme: Tenant) -> None:
    """The attacker's own page shows a value bound to the attacker's session only."""
    attacker = _victim_browser(app, acme)  # signed in as the victim's colleague... any account
    page = post_acs(attacker, acme.integration_id, acme.response(ATTACKER)).get_data(as_text=True)
    value = _confirm_value(page)
    victim = _victim_browser(app, acme)
    r = victim.post(_continue(acme), data={"confirm": value})
    assert r.status_code == 400
    assert me(victim).json["email"] == VICTIM


def test_the_person_who_confirms_switches_once(app: Flask, acme: Tenant) -> None:
    browser = _victim_browser(app, acme)
    page = post_acs(browser, acme.integration_id, acme.response(ATTACKER)).get_data(as_text=True)
    value = _confirm_value(page)
    r = browser.post(_continue(acme), data={"confirm": value})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    assert me(browser).json["email"] == ATTACKER
    again = browser.post(_continue(acme), data={"confirm": value})
    assert again.status_code == 400


def test_a_confirmation_after_the_assertion_was_used_elsewhere_is_refused(
    app: Flask, acme: Tenant
) -> None:
    xml = acme.response(ATTACKER)
    browser = _victim_browser(app, acme)
    value = _confirm_value(post_acs(browser, acme.integration_id, xml).get_data(as_text=True))
    elsewhere = app.test_client()
    assert post_acs(elsewhere, acme.integration_id, xml).status_code == 302
    r = browser.post(_continue(acme), data={"confirm": value})
    assert r.status_code == 403
    assert me(browser).json["email"] == VICTIM  # refused: the session is untouched
    _, longest = audit_footprint(app)
    assert longest < 2000


def test_a_confirmation_expires(app: Flask, acme: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask_okta_scim.web import sso_unsolicited

    browser = _victim_browser(app, acme)
    page = post_acs(browser, acme.integration_id, acme.response(ATTACKER)).get_data(as_text=True)
    monkeypatch.setattr(sso_unsolicited, "PENDING_LIFETIME", -1)
    r = browser.post(_continue(acme), data={"confirm": _confirm_value(page)})
    assert r.status_code == 400
    assert me(browser).json["email"] == VICTIM


def test_the_same_person_signed_in_proceeds(app: Flask, acme: Tenant) -> None:
    browser = _victim_browser(app, acme)
    r = post_acs(browser, acme.integration_id, acme.response(VICTIM.upper()))
    assert r.status_code == 302
    assert me(browser).json["email"] == VICTIM


def test_an_sp_initiated_sign_in_of_another_account_proceeds(app: Flask, acme: Tenant) -> None:
    """Bound to this browser's nonce: the person started it here."""
    browser = _victim_browser(app, acme)
    request_id = start_login(browser, acme.integration_id)
    r = post_acs(browser, acme.integration_id, acme.response(ATTACKER, in_response_to=request_id))
    assert r.status_code == 302
    assert me(browser).json["email"] == ATTACKER


# -- a browser's cross-site POST may hide the session (SameSite): decide on a GET -------------


def test_a_cross_site_post_is_bounced_to_a_get_that_asks(app: Flask, acme: Tenant) -> None:
    browser = _victim_browser(app, acme)
    r = browser.post(
        sign_in_url(acme.integration_id) + "/acs",
        data={"SAMLResponse": _encoded(acme.response(ATTACKER))},
        headers=CROSS_SITE,
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("/continue")
    assert me(browser).json["email"] == VICTIM
    page = browser.get(_continue(acme))
    assert page.status_code == 200 and "Switch accounts?" in page.get_data(as_text=True)
    assert me(browser).json["email"] == VICTIM
    assert browser.get(_continue(acme)).status_code == 400, "the bounce is used once"


def test_a_bounce_with_nobody_signed_in_signs_in(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    r = browser.post(
        sign_in_url(acme.integration_id) + "/acs",
        data={"SAMLResponse": _encoded(acme.response(VICTIM)), "RelayState": "/me"},
        headers=CROSS_SITE,
    )
    assert r.status_code == 303
    done = browser.get(_continue(acme))
    assert done.status_code == 302 and done.headers["Location"].endswith("/me")
    assert me(browser).json["email"] == VICTIM


def test_a_continue_without_a_bounce_or_with_a_forged_one_does_nothing(
    app: Flask, acme: Tenant
) -> None:
    browser = _victim_browser(app, acme)
    assert browser.get(_continue(acme)).status_code == 400
    browser.set_cookie(
        "okta_scim_sso_pending", "eyJmb3JnZWQiOnRydWV9.x.y", domain="app.example.test"
    )
    assert browser.get(_continue(acme)).status_code == 400
    assert me(browser).json["email"] == VICTIM


def _encoded(xml: str) -> str:
    from tests.saml_idp import encode

    return encode(xml)
