"""Policy read from unsigned content: values planted where no digest reaches (the
Response's ``ds:Signature``: its ``KeyInfo``, an ``Object``) count for nothing, and dates
no identity provider would issue are refused, not a crash.

Each case is a response really signed by Acme's Okta, edited *after* signing inside the
Response's signature (the enveloped-signature transform leaves it out of the digest, so
both signatures still verify): before the policy read values by exact path, the extension's
own checks searched the whole document and took the planted values. Two defences stop
them now: the signature guard refuses foreign content in a signature (a 400), and the
policy reads each value from its exact signed place; the last tests check the second on
its own, on the same planted documents.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import pytest
from flask import Flask
from lxml import etree

from sample_app.models import okta
from tests.saml.attacks.support import ATTACKER
from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import assert_refused
from tests.saml.attacks.support import make_tenant
from tests.saml.attacks.support import sso_failures
from tests.saml.attacks.support import sso_successes
from tests.saml.attacks.xml_surgery import edit
from tests.saml.attacks.xml_surgery import q
from tests.saml.attacks.xml_surgery import set_attr
from tests.saml.attacks.xml_surgery import xpath
from tests.saml_idp import NS_DS
from tests.saml_idp import NS_SAML
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import sp_entity_id
from tests.saml_idp import start_login

#: Where a value can be planted in the Response's signature without breaking it.
PLACES = ("object", "keyinfo")


def plant(place: str, *elements: etree._Element) -> Callable[[etree._Element], None]:
    """Put ``elements`` into the Response's own ds:Signature, after signing."""

    def change(root: etree._Element) -> None:
        signature = xpath(root, "/saml2p:Response/ds:Signature")[0]
        if place == "object":
            holder = etree.SubElement(signature, q(NS_DS, "Object"))
        else:
            holder = signature.find(q(NS_DS, "KeyInfo"))
        for element in elements:
            holder.append(element)

    return change


def confirmation(**attributes: str) -> etree._Element:
    element = etree.Element(q(NS_SAML, "SubjectConfirmationData"))
    for name, value in attributes.items():
        element.set(name, value)
    return element


def audience(value: str) -> etree._Element:
    restriction = etree.Element(q(NS_SAML, "AudienceRestriction"))
    etree.SubElement(restriction, q(NS_SAML, "Audience")).text = value
    return restriction


@pytest.fixture
def closed(app: Flask) -> Tenant:
    """Acme with IdP-initiated sign-in turned off."""
    return make_tenant(app, "Acme", IDP, allow_idp_initiated=False)


def post(browser: t.Any, tenant: Tenant, xml: str) -> t.Any:
    return post_acs(browser, tenant.integration_id, xml)


@pytest.mark.parametrize("place", PLACES)
def test_a_planted_in_response_to_does_not_make_an_unsolicited_response_solicited(
    app: Flask, closed: Tenant, place: str
) -> None:
    browser = app.test_client()
    request_id = start_login(browser, closed.integration_id)  # outstanding in this browser
    unsolicited = closed.response(ATTACKER, in_response_to=None, scd_in_response_to=None)
    xml = edit(unsolicited, plant(place, confirmation(InResponseTo=request_id)))
    before = len(sso_failures(app, closed.org_id))
    assert_refused(app, browser, post(browser, closed, xml), (400, 403), closed.org_id, before)
    assert sso_successes(app, closed.org_id) == 0
    # the same browser's request is still usable by a genuine answer
    good = closed.response(ATTACKER, in_response_to=request_id)
    assert post(browser, closed, good).status_code == 302
    assert me(browser).status_code == 200


@pytest.mark.parametrize("place", PLACES)
def test_a_planted_not_on_or_after_does_not_satisfy_the_rule(
    app: Flask, closed: Tenant, place: str
) -> None:
    browser = app.test_client()
    request_id = start_login(browser, closed.integration_id)
    no_expiry = closed.response(
        ATTACKER,
        in_response_to=request_id,
        tweak=set_attr("//saml2:SubjectConfirmationData", "NotOnOrAfter", None),
    )
    planted = confirmation(NotOnOrAfter="2999-01-01T00:00:00Z", InResponseTo=request_id)
    xml = edit(no_expiry, plant(place, planted))
    before = len(sso_failures(app, closed.org_id))
    assert_refused(app, browser, post(browser, closed, xml), (400, 403), closed.org_id, before)


@pytest.mark.parametrize("place", PLACES)
def test_a_planted_audience_does_not_satisfy_the_audience_rule(
    app: Flask, closed: Tenant, place: str
) -> None:
    browser = app.test_client()
    request_id = start_login(browser, closed.integration_id)
    no_audience = closed.response(ATTACKER, in_response_to=request_id, audience=None)
    xml = edit(no_audience, plant(place, audience(sp_entity_id(closed.integration_id))))
    before = len(sso_failures(app, closed.org_id))
    assert_refused(app, browser, post(browser, closed, xml), (400, 403), closed.org_id, before)


@pytest.mark.parametrize("place", PLACES)
def test_a_planted_recipient_does_not_count(app: Flask, closed: Tenant, place: str) -> None:
    """An assertion addressed elsewhere stays refused, whatever sits in the signature."""
    browser = app.test_client()
    request_id = start_login(browser, closed.integration_id)
    elsewhere = closed.response(
        ATTACKER, in_response_to=request_id, recipient="https://other.example/acs"
    )
    acs = f"https://app.example.test/users/sign-in/sso/okta/{closed.integration_id}/acs"
    xml = edit(elsewhere, plant(place, confirmation(Recipient=acs, InResponseTo=request_id)))
    before = len(sso_failures(app, closed.org_id))
    assert_refused(app, browser, post(browser, closed, xml), (400, 403), closed.org_id, before)


FAR_FUTURE = "9999-12-31T23:59:59Z"


@pytest.mark.parametrize(
    "where",
    [
        "//saml2:SubjectConfirmationData",
        "//saml2:Conditions",
    ],
)
def test_a_far_future_validity_is_a_refusal_not_a_crash(
    app: Flask, acme: Tenant, where: str
) -> None:
    browser = app.test_client()
    xml = acme.response(ATTACKER, tweak=set_attr(where, "NotOnOrAfter", FAR_FUTURE))
    before = len(sso_failures(app, acme.org_id))
    detail = assert_refused(app, browser, post(browser, acme, xml), (400, 403), acme.org_id, before)
    assert "ahead" in detail["reason"] or "time" in detail["reason"], detail
    with app.app_context():
        seen = okta.directory().session.scalars(okta.models.assertion_seen.__table__.select()).all()
    assert seen == [], "a refused assertion was remembered (until year 9999)"


def test_a_validity_of_a_day_and_more_is_refused_but_okta_s_is_accepted(
    app: Flask, acme: Tenant
) -> None:
    long_lived = acme.response(ATTACKER, not_on_or_after=3 * 86400, scd_not_on_or_after=3 * 86400)
    browser = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    assert_refused(app, browser, post(browser, acme, long_lived), (400, 403), acme.org_id, before)
    okta_like = acme.response(ATTACKER, not_on_or_after=300, scd_not_on_or_after=300)
    assert post(browser, acme, okta_like).status_code == 302
    assert me(browser).status_code == 200


# -- the exact-path reading on its own (without the signature guard in front) -------------------


@pytest.mark.parametrize("place", PLACES)
def test_values_planted_in_the_signature_are_not_read(acme: Tenant, place: str) -> None:
    from flask_okta_scim.saml.service import _SignedValues
    from tests.saml_idp import parse

    acs = f"https://app.example.test/users/sign-in/sso/okta/{acme.integration_id}/acs"
    bare = acme.response(
        ATTACKER,
        in_response_to=None,
        scd_in_response_to=None,
        audience=None,
        tweak=set_attr("//saml2:SubjectConfirmationData", "NotOnOrAfter", None),
    )
    planted = edit(
        bare,
        plant(
            place,
            confirmation(InResponseTo="id-planted", NotOnOrAfter="2999-01-01T00:00:00Z"),
            audience(sp_entity_id(acme.integration_id)),
        ),
    )
    values = _SignedValues.read(parse(planted))
    assert values.confirmation("InResponseTo") == []
    assert values.confirmation("NotOnOrAfter") == []
    assert values.audiences == []
    assert [c.get("Recipient") for c in values.confirmations] == [acs]
