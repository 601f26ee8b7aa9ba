"""Binding nonces: only nonces the server issued (signed, recent) bind a sign-in to a
browser; on an https base URL the plain-http twin cookie is never read; a browser keeps
a few sign-ins in progress at most, and an address may start only so many.
"""

from __future__ import annotations

import statistics
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.conftest import sample_app_on
from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import VICTIM
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import authn_requests
from tests.saml.attacks.support import good_sign_in_seconds
from tests.saml.attacks.support import make_tenant
from tests.saml.attacks.support import timed
from tests.saml_idp import BASE_URL
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import sign_in_url
from tests.saml_idp import start_login

DOMAIN = "app.example.test"


def _cookie_path(acme: Tenant) -> str:
    return sign_in_url(acme.integration_id).removeprefix(BASE_URL)


def _binding(browser: t.Any, acme: Tenant) -> str | None:
    cookie = browser.get_cookie("okta_scim_sso", domain=DOMAIN, path=_cookie_path(acme))
    return None if cookie is None else t.cast(str, cookie.value)


@pytest.mark.parametrize("planted", ["known-nonce", "a" * 43, "x.y.z"])
def test_a_planted_nonce_is_not_adopted(app: Flask, acme: Tenant, planted: str) -> None:
    victim = app.test_client()
    victim.set_cookie("okta_scim_sso", planted, domain=DOMAIN, path=_cookie_path(acme))
    request_id = start_login(victim, acme.integration_id)
    assert _binding(victim, acme) != planted
    attacker = app.test_client()
    attacker.set_cookie("okta_scim_sso", planted, domain=DOMAIN, path=_cookie_path(acme))
    r = post_acs(attacker, acme.integration_id, acme.response(VICTIM, in_response_to=request_id))
    assert r.status_code == 403
    assert me(attacker).status_code == 401
    # the victim's own browser still finishes
    r = post_acs(victim, acme.integration_id, acme.response(VICTIM, in_response_to=request_id))
    assert r.status_code == 302 and me(victim).json["email"] == VICTIM


@pytest.mark.parametrize("tamper", ["signature", "timestamp"])
def test_a_tampered_binding_is_ignored(app: Flask, acme: Tenant, tamper: str) -> None:
    browser = app.test_client()
    request_id = start_login(browser, acme.integration_id)
    value = _binding(browser, acme)
    assert value is not None
    nonce, stamp, signature = value.rsplit(".", 2)
    forged = (
        f"{nonce}.{stamp}.{signature[:-2]}AA"
        if tamper == "signature"
        else f"{nonce}.AAAAAA.{signature}"
    )
    browser.set_cookie("okta_scim_sso", forged, domain=DOMAIN, path=_cookie_path(acme))
    r = post_acs(browser, acme.integration_id, acme.response(VICTIM, in_response_to=request_id))
    assert r.status_code == 403
    assert me(browser).status_code == 401


def test_the_http_twin_is_not_read_on_an_https_base_url(app: Flask, acme: Tenant) -> None:
    """A network attacker can plant a non-Secure cookie over http; https ignores it."""
    started = app.test_client()
    request_id = start_login(started, acme.integration_id)
    value = _binding(started, acme)
    assert value is not None
    planted = app.test_client()
    planted.set_cookie("okta_scim_sso_http", value, domain=DOMAIN, path=_cookie_path(acme))
    r = post_acs(planted, acme.integration_id, acme.response(VICTIM, in_response_to=request_id))
    assert r.status_code == 403
    assert me(planted).status_code == 401


def test_a_browser_keeps_a_few_sign_ins_in_progress(app: Flask, acme: Tenant) -> None:
    yardstick = good_sign_in_seconds(app, acme)
    browser = app.test_client()
    ids, costs = [], []
    for _ in range(150):
        request_id, seconds = timed(lambda: start_login(browser, acme.integration_id))
        ids.append(request_id)
        costs.append(seconds)
    assert authn_requests(app) <= 5
    # a start costs less than a sign-in, and the 150th no more than the first ones
    assert statistics.median(costs) < yardstick * 3
    assert statistics.median(costs[-20:]) < max(statistics.median(costs[:20]), yardstick) * 3
    old = post_acs(browser, acme.integration_id, acme.response(VICTIM, in_response_to=ids[0]))
    assert old.status_code == 403 and me(browser).status_code == 401
    new = post_acs(browser, acme.integration_id, acme.response(VICTIM, in_response_to=ids[-1]))
    assert new.status_code == 302 and me(browser).json["email"] == VICTIM


@pytest.fixture
def limited_app(database_url: str, backend: str) -> Iterator[Flask]:
    with sample_app_on(database_url, backend, OKTA_SCIM_SSO_START_LIMIT="10/minute") as app:
        yield app


def test_an_address_starts_only_so_many_sign_ins(limited_app: Flask) -> None:
    acme = make_tenant(limited_app, "Acme", IDP)
    statuses = [
        limited_app.test_client().get(sign_in_url(acme.integration_id)).status_code
        for _ in range(40)
    ]
    assert statuses.count(302) == 10 and statuses.count(429) == 30
    assert authn_requests(limited_app) == 10
    other = limited_app.test_client().get(
        sign_in_url(acme.integration_id), environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert other.status_code == 302
