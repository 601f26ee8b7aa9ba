"""Replay: a response signs in once, in one browser; an AuthnRequest is answered once; the
replay cache remembers an assertion for as long as the assertion is valid.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from flask import Flask
from sqlalchemy import select

from sample_app.models import okta
from tests.saml.attacks.support import ATTACKER
from tests.saml.attacks.support import VICTIM
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import account_exists
from tests.saml.attacks.support import assert_refused
from tests.saml.attacks.support import sso_failures
from tests.saml.attacks.support import sso_successes
from tests.saml_idp import BASE_URL
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import start_login

# -- replay ------------------------------------------------------------------------------------


def test_replayed_idp_initiated_response_is_refused_in_a_fresh_browser(
    app: Flask, acme: Tenant
) -> None:
    xml = acme.response(VICTIM)
    first = app.test_client()
    assert post_acs(first, acme.integration_id, xml).status_code == 302
    assert me(first).status_code == 200

    thief = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(thief, acme.integration_id, xml)
    assert_refused(app, thief, response, 403, acme.org_id, before)
    assert sso_successes(app, acme.org_id) == 1


def test_replayed_sp_initiated_response_is_refused_in_the_same_browser(
    app: Flask, acme: Tenant
) -> None:
    browser = app.test_client()
    request_id = start_login(browser, acme.integration_id)
    xml = acme.response(VICTIM, in_response_to=request_id)
    assert post_acs(browser, acme.integration_id, xml).status_code == 302
    browser.post(f"{BASE_URL}/logout")
    assert me(browser).status_code == 401

    before = len(sso_failures(app, acme.org_id))
    response = post_acs(browser, acme.integration_id, xml)
    assert_refused(app, browser, response, 403, acme.org_id, before)


def test_a_request_is_answered_once(app: Flask, acme: Tenant) -> None:
    """A second, different assertion answering an already-answered AuthnRequest is refused."""
    browser = app.test_client()
    request_id = start_login(browser, acme.integration_id)
    ok = post_acs(browser, acme.integration_id, acme.response(VICTIM, in_response_to=request_id))
    assert ok.status_code == 302
    browser.post(f"{BASE_URL}/logout")

    before = len(sso_failures(app, acme.org_id))
    again = acme.response(ATTACKER, in_response_to=request_id)
    response = post_acs(browser, acme.integration_id, again)
    assert_refused(app, browser, response, 403, acme.org_id, before)
    assert not account_exists(app, ATTACKER)


def _let_time_pass_for_the_replay_cache(app: Flask, delta: timedelta) -> None:
    """Age the replay cache by ``delta``, and drop what has expired by then.

    As if that much time had gone by and the cache's own clean-up had run (it
    drops rows past their ``expires_at``, now and then).
    """
    now = datetime.now(timezone.utc)
    with app.app_context():
        session = okta.directory().session
        # In Python, not in SQL: SQLite has no date arithmetic on its stored text.
        for row in session.scalars(select(okta.models.assertion_seen)):
            aged = row.expires_at - delta
            if (aged if aged.tzinfo else aged.replace(tzinfo=timezone.utc)) < now:
                session.delete(row)
            else:
                row.expires_at = aged
        session.commit()


@pytest.mark.parametrize(
    "conditions_not_on_or_after",
    [7200, None],
    ids=["valid-for-two-hours", "never-expires"],
)
def test_replay_is_caught_for_as_long_as_the_assertion_is_valid(
    app: Flask, acme: Tenant, conditions_not_on_or_after: int | None
) -> None:
    """An assertion whose bearer confirmation states no NotOnOrAfter (SAML profiles
    §4.1.4.2 require one; Okta always sends it) stays valid for python3-saml as long as
    its Conditions say, or forever without them. It must be refused outright, or be
    remembered for that long: here, replayed in another browser 30 minutes later.
    """
    xml = acme.response(
        VICTIM, scd_not_on_or_after=None, not_on_or_after=conditions_not_on_or_after
    )
    first = app.test_client()
    response = post_acs(first, acme.integration_id, xml)
    if response.status_code != 302:  # refused outright: fine
        assert_refused(app, first, response, 403, acme.org_id, 0)
        return
    _let_time_pass_for_the_replay_cache(app, timedelta(minutes=30))
    thief = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(thief, acme.integration_id, xml)
    assert_refused(app, thief, response, 403, acme.org_id, before)
