"""The attack corpus: forged, tampered, wrapped, unparseable, expired, misaddressed and
unsolicited Responses posted to Acme's ACS; every case must be refused properly
(see :mod:`tests.saml.attacks`), sign nobody in and create nothing.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from dataclasses import field

import pytest
from flask import Flask
from lxml import etree

from tests.saml.attacks.support import ATTACKER
from tests.saml.attacks.support import GLOBEX_IDP
from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import IMPOSTOR
from tests.saml.attacks.support import VICTIM
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import account_exists
from tests.saml.attacks.support import assert_refused
from tests.saml.attacks.support import make_tenant
from tests.saml.attacks.support import sso_failures
from tests.saml.attacks.support import sso_successes
from tests.saml.attacks.xml_surgery import _make_evil
from tests.saml.attacks.xml_surgery import edit
from tests.saml.attacks.xml_surgery import q
from tests.saml.attacks.xml_surgery import remove
from tests.saml.attacks.xml_surgery import set_attr
from tests.saml.attacks.xml_surgery import set_text
from tests.saml.attacks.xml_surgery import xpath
from tests.saml.attacks.xml_surgery import xsw
from tests.saml_idp import NS_SAML
from tests.saml_idp import STATUS_RESPONDER
from tests.saml_idp import acs_url
from tests.saml_idp import encode
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import sp_entity_id
from tests.saml_idp import start_login

# -- scenario for the parametrized cases ---------------------------------------------------------


@dataclass
class Attack:
    """What a case builder can use: the app, Acme, a browser for the attacker."""

    app: Flask
    acme: Tenant
    browser: t.Any
    _globex: Tenant | None = field(default=None, repr=False)

    @property
    def globex(self) -> Tenant:
        """Globex, created on first use (so that some cases run with one tenant only)."""
        if self._globex is None:
            self._globex = make_tenant(self.app, "Globex", GLOBEX_IDP)
        return self._globex

    def good(self, name_id: str = ATTACKER, **kwargs: t.Any) -> str:
        """A correct response of Acme's Okta for Acme's connection."""
        return self.acme.response(name_id, **kwargs)

    def new_browser(self) -> t.Any:
        return self.app.test_client()


#: A case returns the XML to post, or the raw form fields to post.
Sent = str | dict[str, str]


@dataclass
class Case:
    id: str
    build: Callable[[Attack], Sent]
    status: int | tuple[int, ...] = 403


def _two_assertions(a: Attack) -> str:
    def add_second(response: etree._Element) -> None:
        first = response.find(q(NS_SAML, "Assertion"))
        second = deepcopy(first)
        second.set("ID", "id99999999999999999999999")
        _make_evil(second, VICTIM)
        response.append(second)

    return a.good(tweak=add_second)


def _duplicate_attribute(a: Attack) -> str:
    return a.good(attributes={"email": ATTACKER, "firstName": "Eve"}, tweak=_dup_email)


def _dup_email(response: etree._Element) -> None:
    attribute = xpath(response, "//saml2:Attribute[@Name='email']")[0]
    twin = deepcopy(attribute)
    twin.find(q(NS_SAML, "AttributeValue")).text = VICTIM
    attribute.addnext(twin)


def _keyinfo_swapped(a: Attack) -> str:
    """Signed with the wrong key, with the configured certificate put in KeyInfo."""
    body = IDP.certificate_body
    return edit(
        IMPOSTOR.for_connection(a.acme.integration_id, VICTIM),
        set_text("//ds:X509Certificate", body),
    )


def _signature_value_corrupted(a: Attack) -> str:
    def corrupt(root: etree._Element) -> None:
        for value in xpath(root, "//ds:SignatureValue"):
            raw = value.text.strip()
            value.text = ("B" if raw[0] != "B" else "C") + raw[1:]

    return edit(a.good(), corrupt)


def _xxe(a: Attack) -> str:
    signed = a.good()
    doctype = '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return doctype + signed.replace(f"{ATTACKER}</saml2:NameID>", "&xxe;</saml2:NameID>")


def _billion_laughs(a: Attack) -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    doctype = "<!DOCTYPE r [" + "".join(entities) + "]>"
    return doctype + a.good().replace(f"{ATTACKER}</saml2:NameID>", "&lol9;</saml2:NameID>")


def _parser_differential(a: Attack) -> str:
    # ruby-saml CVE-2025-25291/25292 (SAML Raider's helper): a DOCTYPE that two parsers read
    # differently. One parser and no DTD at all: refused at parse time.
    return "<!DOCTYPE response SYSTEM 'x\"><!--'>" + a.good()


def _irt_of_another_browser(a: Attack) -> str:
    victim_browser = a.new_browser()
    victim_request = start_login(victim_browser, a.acme.integration_id)
    start_login(a.browser, a.acme.integration_id)  # the attacker's own pending request
    return a.good(in_response_to=victim_request)


def _irt_without_request(a: Attack) -> str:
    # A solicited response (someone else's request) pushed into a browser that started
    # nothing: login CSRF.
    other_request = start_login(a.new_browser(), a.acme.integration_id)
    return a.good(in_response_to=other_request)


def _irt_made_up(a: Attack) -> str:
    start_login(a.browser, a.acme.integration_id)
    return a.good(in_response_to="id00000000000000000000000")


def _irt_of_another_connection(a: Attack) -> str:
    # The browser's request was for Globex; the response claims to answer it at Acme's ACS.
    globex_request = start_login(a.browser, a.globex.integration_id)
    return a.good(in_response_to=globex_request)


def _stripped_outer_irt(own_request: bool) -> Callable[[Attack], str]:
    def build(a: Attack) -> str:
        victim_request = start_login(a.new_browser(), a.acme.integration_id)
        if own_request:
            start_login(a.browser, a.acme.integration_id)
        # Okta set to sign the assertion only; the attacker deletes the unsigned
        # Response's InResponseTo and keeps the (signed) SubjectConfirmationData one.
        signed = a.good(in_response_to=victim_request, sign_response=False)
        return edit(signed, set_attr("/saml2p:Response", "InResponseTo", None))

    return build


def _scd_only_irt(own_request: bool) -> Callable[[Attack], str]:
    def build(a: Attack) -> str:
        # Correctly signed by Okta, but only the SubjectConfirmationData says which
        # request it answers (python3-saml compares it with the Response's value only).
        victim_request = start_login(a.new_browser(), a.acme.integration_id)
        if own_request:
            start_login(a.browser, a.acme.integration_id)
        return a.good(in_response_to=None, scd_in_response_to=victim_request)

    return build


def _scd_irt_mismatch(a: Attack) -> str:
    mine = start_login(a.browser, a.acme.integration_id)
    victims = start_login(a.new_browser(), a.acme.integration_id)
    return a.good(in_response_to=mine, scd_in_response_to=victims)


def _idp_initiated_refused(a: Attack) -> str:
    a.acme = make_tenant(a.app, "Initech", IDP, allow_idp_initiated=False)
    return a.good()


def _other_tenants_key(a: Attack) -> str:
    # Globex's admin controls Globex's Okta: a response signed by it, naming Acme's IdP
    # as issuer and addressed to Acme's ACS.
    return IMPOSTOR.for_connection(a.acme.integration_id, VICTIM)


def _other_tenants_genuine_response(a: Attack) -> str:
    # A perfectly valid Globex response (Globex's issuer and key), readdressed to Acme.
    return a.globex.idp.for_connection(a.acme.integration_id, VICTIM)


def _globex_response_replayed_at_acme(a: Attack) -> str:
    # A response for Globex's connection (audience, destination) posted to Acme's ACS.
    return a.globex.response(VICTIM)


def _forged_with_other_tenants_key(a: Attack) -> str:
    a.globex  # noqa: B018 - Globex exists and trusts this key
    return _other_tenants_key(a)


CASES: list[Case] = [
    # -- signatures --------------------------------------------------------------------------
    Case("unsigned", lambda a: a.good(sign_assertion=False, sign_response=False)),
    Case("response-signed-only", lambda a: a.good(sign_assertion=False)),
    Case("assertion-signed-only", lambda a: a.good(sign_response=False)),
    Case("other-key", lambda a: IMPOSTOR.for_connection(a.acme.integration_id, VICTIM)),
    Case("other-tenants-key", _forged_with_other_tenants_key),
    Case("other-tenants-idp-readdressed", _other_tenants_genuine_response),
    Case("other-tenants-response-posted-here", _globex_response_replayed_at_acme),
    Case("keyinfo-cert-swapped", _keyinfo_swapped),
    # SHA-1 and signature shapes no IdP sends are refused before xmlsec runs (saml/guard.py):
    # 400, like input that cannot be read.
    Case("sha1", lambda a: a.good(algorithm="sha1"), 400),
    Case("signature-value-corrupted", _signature_value_corrupted),
    # -- sign, then tamper -------------------------------------------------------------------
    Case(
        "tampered-nameid",
        lambda a: edit(a.good(), set_text("//saml2:NameID", VICTIM)),
    ),
    Case(
        "tampered-audience",
        lambda a: edit(
            a.good(audience="https://other.example/metadata"),
            set_text("//saml2:Audience", sp_entity_id(a.acme.integration_id)),
        ),
    ),
    Case(
        "tampered-attribute",
        lambda a: edit(
            a.good(attributes={"email": ATTACKER, "firstName": "Eve"}),
            set_text("//saml2:Attribute[@Name='email']/saml2:AttributeValue", VICTIM),
        ),
    ),
    Case(
        "tampered-destination",
        lambda a: edit(
            a.good(destination="https://other.example/acs"),
            set_attr("/saml2p:Response", "Destination", acs_url(a.acme.integration_id)),
        ),
    ),
    Case(
        "tampered-expiry",
        lambda a: edit(
            a.good(not_on_or_after=-600),
            set_attr("//saml2:Conditions", "NotOnOrAfter", "2099-01-01T00:00:00.000Z"),
        ),
    ),
    Case(
        "assertion-id-changed",
        lambda a: edit(a.good(), set_attr("//saml2:Assertion", "ID", "id12345678901234567890123")),
        400,  # the Reference no longer points at its signed element
    ),
    Case("all-signatures-stripped", lambda a: edit(a.good(), remove("//ds:Signature"))),
    Case(
        "assertion-signature-stripped",
        lambda a: edit(a.good(), remove("//saml2:Assertion/ds:Signature")),
    ),
    Case(
        "response-signature-stripped",
        lambda a: edit(a.good(), remove("/saml2p:Response/ds:Signature")),
    ),
    Case(
        "assertion-signature-stripped-and-nameid-tampered",
        lambda a: edit(
            edit(a.good(), remove("//saml2:Assertion/ds:Signature")),
            set_text("//saml2:NameID", VICTIM),
        ),
    ),
    # -- XML signature wrapping (SAML Raider's XSW1-8 and 10) -------------------------------
    # The wrappings that move a signature away from its signed element, or copy an ID,
    # are refused by the signature guard (400); XSW3 and 4 add an unsigned copy with a
    # new ID, which python3-saml refuses (403).
    *[
        Case(f"xsw{n}", lambda a, n=n: xsw(a.good(), n), 403 if n in (3, 4) else 400)
        for n in (1, 2, 3, 4, 5, 6, 7, 8)
    ],
    *[
        Case(
            f"xsw{n}-assertion-signed-only",
            lambda a, n=n: xsw(a.good(sign_response=False), n),
            403 if n in (3, 4) else 400,
        )
        for n in (3, 4, 5, 6, 7, 8)
    ],
    Case("xsw10-doctype", lambda a: xsw(a.good(), 10), 400),
    # -- parser ------------------------------------------------------------------------------
    Case("xxe", _xxe, 400),
    Case("billion-laughs", _billion_laughs, 400),
    Case("doctype-parser-differential", _parser_differential, 400),
    Case("garbage", lambda a: {"SAMLResponse": encode("this is not XML <<<")}, 400),
    Case("empty", lambda a: {"SAMLResponse": ""}, 400),
    Case("non-base64", lambda a: {"SAMLResponse": "%%% not base64 ~~~"}, 400),
    Case("missing", lambda a: {"RelayState": "/"}, 400),
    Case("xml-but-not-a-response", lambda a: {"SAMLResponse": encode("<foo/>")}, (400, 403)),
    # Within the body limit but over the SAMLResponse limit; bodies over the body limit
    # are refused unread and unaudited (test_sizes.py).
    Case("oversized", lambda a: {"SAMLResponse": "A" * (600 * 1024)}, 400),
    Case("truncated", lambda a: {"SAMLResponse": encode(a.good()[:-40])}, 400),
    # -- time --------------------------------------------------------------------------------
    Case("expired", lambda a: a.good(not_on_or_after=-600, scd_not_on_or_after=-600)),
    Case("not-yet-valid", lambda a: a.good(not_before=600, issue_instant=600)),
    Case("subject-confirmation-expired", lambda a: a.good(scd_not_on_or_after=-600)),
    # -- addressing --------------------------------------------------------------------------
    Case("wrong-audience", lambda a: a.good(audience="https://evil.example/metadata")),
    Case(
        "other-tenants-audience",
        lambda a: a.good(audience=sp_entity_id(a.globex.integration_id)),
    ),
    Case("wrong-destination", lambda a: a.good(destination="https://evil.example/acs")),
    Case(
        "other-tenants-destination",
        lambda a: a.good(destination=acs_url(a.globex.integration_id)),
    ),
    Case("wrong-recipient", lambda a: a.good(recipient="https://evil.example/acs")),
    # python3-saml accepts these four (prefix, substring, absent); Okta always sends all
    # of them, exactly, so the ACS insists.
    Case(
        "destination-prefix",
        lambda a: a.good(destination=acs_url(a.acme.integration_id) + "/extra"),
    ),
    Case("destination-missing", lambda a: a.good(destination="")),
    Case(
        "recipient-containing-the-acs",
        lambda a: a.good(recipient=f"https://evil.example/?u={acs_url(a.acme.integration_id)}"),
    ),
    Case(
        "recipient-missing",
        lambda a: a.good(tweak=set_attr("//saml2:SubjectConfirmationData", "Recipient", None)),
    ),
    Case("audience-restriction-missing", lambda a: a.good(audience=None)),
    Case("wrong-issuer", lambda a: a.good(issuer="http://www.okta.com/exkEVIL")),
    Case(
        "wrong-assertion-issuer",
        lambda a: a.good(assertion_issuer="http://www.okta.com/exkEVIL"),
    ),
    # -- protocol ----------------------------------------------------------------------------
    Case("two-assertions", _two_assertions, 400),  # three signatures: the guard refuses
    Case("status-responder", lambda a: a.good(status=STATUS_RESPONDER)),
    Case("duplicate-attribute", _duplicate_attribute, (400, 403)),
    Case("empty-nameid", lambda a: a.good(name_id=""), (400, 403)),
    # -- InResponseTo: binding the response to the browser (login CSRF) --------------------
    Case("in-response-to-another-browsers-request", _irt_of_another_browser),
    Case("in-response-to-without-request-started", _irt_without_request),
    Case("in-response-to-made-up", _irt_made_up),
    Case("in-response-to-another-connections-request", _irt_of_another_connection),
    Case(
        "stripped-outer-in-response-to",
        _stripped_outer_irt(own_request=True),
    ),
    Case(
        "stripped-outer-in-response-to-no-request",
        _stripped_outer_irt(own_request=False),
    ),
    Case(
        "subject-confirmation-only-in-response-to-another-browsers-request",
        _scd_only_irt(own_request=True),
    ),
    Case(
        "subject-confirmation-only-in-response-to-without-request",
        _scd_only_irt(own_request=False),
    ),
    Case("subject-confirmation-in-response-to-mismatch", _scd_irt_mismatch),
    Case("idp-initiated-disallowed", _idp_initiated_refused),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_attack_is_refused(app: Flask, acme: Tenant, case: Case) -> None:
    attack = Attack(app, acme, app.test_client())
    sent = case.build(attack)
    tenant = attack.acme  # a case may swap in another tenant
    before = sso_failures(app, tenant.org_id)
    if isinstance(sent, str):
        response = post_acs(attack.browser, tenant.integration_id, sent)
    else:
        response = attack.browser.post(acs_url(tenant.integration_id), data=sent)
    assert_refused(app, attack.browser, response, case.status, tenant.org_id, len(before))
    assert not account_exists(app, ATTACKER), "a refused sign-in created an account"
    assert sso_successes(app, tenant.org_id) == 0
    assert me(attack.new_browser()).status_code == 401


def test_enough_cases() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)
