"""Attack corpus for the SAML Assertion Consumer Service (SPEC §2 rules 1-3 and 9, §6 Security).

Every case is a real, signed (or deliberately badly signed) Response from
:mod:`tests.saml_idp`, posted to the real ACS through the Flask test client,
on SQLite and on PostgreSQL. Nothing on the service-provider side is mocked.

A refused sign-in must show an HTML error page (400 for input that cannot be
read, 403 for anything invalid or refused), sign nobody in (``/me`` is 401),
leak neither a traceback nor the failure reason, create nothing, and leave an
``sso.login`` audit row with outcome ``failure`` and a ``reason``.

Cast: Acme's Okta (``IDP``, the key in ``tests/data/idp.key``) is configured on
Acme's connection; ``ada@acme.example`` is a member of Acme (the victim); Eve
(``eve@acme.example``) is an attacker whose domain Acme pre-approves, so a
correct response for her would sign her in by JIT. Globex is a second
organization whose own Okta signs with ``tests/data/other-idp.key``.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import select

from sample_app.models import okta
from tests.saml_idp import BASE_URL
from tests.saml_idp import IDP_CERT
from tests.saml_idp import IDP_KEY
from tests.saml_idp import NS_DS
from tests.saml_idp import NS_SAML
from tests.saml_idp import NS_SAMLP
from tests.saml_idp import NSMAP
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import STATUS_RESPONDER
from tests.saml_idp import TestIdP
from tests.saml_idp import acs_url
from tests.saml_idp import encode
from tests.saml_idp import me
from tests.saml_idp import parse
from tests.saml_idp import post_acs
from tests.saml_idp import serialize
from tests.saml_idp import sp_entity_id
from tests.saml_idp import start_login

VICTIM = "ada@acme.example"
ATTACKER = "eve@acme.example"
GLOBEX_ENTITY_ID = "http://www.okta.com/exkGLOBEX"

#: Acme's Okta app.
IDP = TestIdP(IDP_KEY, IDP_CERT, OKTA_ENTITY_ID)
#: Globex's Okta app: another key, another entity ID.
GLOBEX_IDP = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT, GLOBEX_ENTITY_ID)
#: The other key pretending to be Acme's Okta (same entity ID, wrong key).
IMPOSTOR = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT, OKTA_ENTITY_ID)

#: What python3-saml, lxml or Python say when something fails: never shown to the person.
LEAKS = (
    "Traceback",
    "Signature validation failed",
    "Could not validate timestamp",
    "is not signed",
    "must contain 1 assertion",
    "Deprecated signature algorithm",
    "DTDForbidden",
    "EntitiesForbidden",
    "XMLSyntaxError",
    "binascii",
    "onelogin",
    "OneLogin",
    "lxml",
    "InResponseTo",
    "replay",
)


# -- tenants ---------------------------------------------------------------------------------


@dataclass
class Tenant:
    org_id: t.Any
    name: str
    integration_id: str
    idp: TestIdP

    def response(self, name_id: str, **kwargs: t.Any) -> str:
        """A response of this tenant's own Okta for this tenant's connection."""
        return self.idp.for_connection(self.integration_id, name_id, **kwargs)


def make_tenant(
    app: Flask,
    name: str,
    idp: TestIdP,
    *,
    domains: tuple[str, ...] = ("acme.example",),
    members: tuple[str, ...] = (VICTIM,),
    configure: bool = True,
    allow_idp_initiated: bool = True,
) -> Tenant:
    """An organization with an Okta connection for ``idp``, a team pre-approving ``domains``."""
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        org = d.create_organization(name)
        conn = d.connect(org)
        if configure:
            d.configure_connection(
                conn,
                idp_entity_id=idp.entity_id,
                idp_sso_url=OKTA_SSO_URL,
                certificates=[idp.certificate],
            )
        if not allow_idp_initiated:
            d.set_allow_idp_initiated(conn, False)
        team = d.create_team(org, "Ops")
        for domain in domains:
            d.add_team_domain(team, domain)
        for email in members:
            account, _ = d.ensure_account(email)
            d.add_member(org, account)
        return Tenant(org.id, name, conn.integration_id, idp)


@pytest.fixture
def acme(app: Flask) -> Tenant:
    return make_tenant(app, "Acme", IDP)


def sso_failures(app: Flask, org_id: t.Any) -> list[dict[str, t.Any]]:
    """The ``detail`` of every refused sign-in audited for the organization, newest first."""
    with app.app_context():
        d = okta.directory()
        rows = d.audit_log(d.get_organization(org_id), limit=1000)
        return [
            dict(row.detail or {})
            for row in rows
            if row.action == "sso.login" and row.outcome == "failure"
        ]


def sso_successes(app: Flask, org_id: t.Any) -> int:
    with app.app_context():
        d = okta.directory()
        rows = d.audit_log(d.get_organization(org_id), limit=1000)
        return sum(1 for row in rows if row.action == "sso.login" and row.outcome == "success")


def account_exists(app: Flask, email: str) -> bool:
    with app.app_context():
        return okta.directory().find_account(email) is not None


def assert_refused(
    app: Flask,
    browser: t.Any,
    response: t.Any,
    status: int | tuple[int, ...],
    org_id: t.Any,
    failures_before: int,
) -> dict[str, t.Any]:
    """The sign-in was refused properly; return the audit detail of the refusal."""
    body = response.get_data(as_text=True)
    allowed = status if isinstance(status, tuple) else (status,)
    assert response.status_code in allowed, (response.status_code, body[:500])
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers
    for leak in LEAKS:
        assert leak not in body, f"the error page leaks {leak!r}"
    assert me(browser).status_code == 401, "somebody is signed in"
    failures = sso_failures(app, org_id)
    assert len(failures) == failures_before + 1, "the refusal was not audited (once)"
    reason = failures[0].get("reason")
    assert isinstance(reason, str) and reason, failures[0]
    assert reason not in body, "the error page shows the failure reason"
    return failures[0]


# -- XML surgery (sign, then mutate) -------------------------------------------------------------


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def xpath(root: etree._Element, path: str) -> list[t.Any]:
    return t.cast(list[t.Any], root.xpath(path, namespaces=NSMAP))


def edit(xml: str, change: Callable[[etree._Element], None]) -> str:
    root = parse(xml)
    change(root)
    return serialize(root)


def set_text(path: str, value: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        nodes = xpath(root, path)
        assert nodes, path
        for node in nodes:
            node.text = value

    return change


def set_attr(path: str, name: str, value: str | None) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        nodes = xpath(root, path)
        assert nodes, path
        for node in nodes:
            if value is None:
                del node.attrib[name]
            else:
                node.set(name, value)

    return change


def remove(path: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        nodes = xpath(root, path)
        assert nodes, path
        for node in nodes:
            node.getparent().remove(node)

    return change


def _signature(element: etree._Element) -> etree._Element:
    """The first ``ds:Signature`` in ``element``'s subtree (as SAML Raider looks it up)."""
    found = element.find(f".//{q(NS_DS, 'Signature')}")
    assert found is not None
    return found


def _make_evil(element: etree._Element, victim: str) -> None:
    """The attacker's edit: every NameID in ``element`` now names the victim."""
    for nameid in element.iter(q(NS_SAML, "NameID")):
        nameid.text = victim


def _first_assertion(root: etree._Element) -> etree._Element:
    found = root.find(f".//{q(NS_SAML, 'Assertion')}")
    assert found is not None
    return found


def xsw(xml: str, variant: int, victim: str = VICTIM) -> str:
    """Apply XML Signature Wrapping ``variant`` (1-8, 10) as SAML Raider does.

    After Somorovsky et al., "On Breaking SAML" (USENIX Security 2012), and
    the transformations of SAML Raider's ``XSWHelpers`` (ported to lxml): the
    *evil* element names the victim; the signed original is kept somewhere
    the signature check may still find it.
    """
    root = parse(xml)
    if variant in (1, 2):
        # Evil Response root; the signed original (minus its signature) inside
        # the Signature (1) or just before it (2).
        original = deepcopy(root)
        sig = _signature(original)
        sig.getparent().remove(sig)
        _make_evil(root, victim)
        if variant == 1:
            _signature(root).append(original)
        else:
            _signature(root).addprevious(original)
        root.set("ID", "_evil_response_ID")
    elif variant in (3, 4, 7):
        # Evil unsigned copy of the Assertion: before the original (3), wrapping it
        # (4), or hidden in samlp:Extensions before it (7).
        assertion = _first_assertion(root)
        evil = deepcopy(assertion)
        _make_evil(evil, victim)
        sig = _signature(evil)
        sig.getparent().remove(sig)
        if variant == 3:
            evil.set("ID", "_evil_assertion_ID")
            assertion.addprevious(evil)
        elif variant == 4:
            evil.set("ID", "_evil_assertion_ID")
            root.append(evil)
            evil.append(assertion)
        else:
            extensions = etree.Element(q(NS_SAMLP, "Extensions"))
            assertion.addprevious(extensions)
            extensions.append(evil)
    elif variant in (5, 6, 8):
        # The signed Assertion becomes the evil one (signature kept); an unsigned
        # copy of the original goes to the end of the Response (5), inside the
        # Signature (6), or inside a ds:Object in the Signature (8).
        evil = _first_assertion(root)
        original_signature = _signature(evil)
        original = deepcopy(evil)
        sig = _signature(original)
        sig.getparent().remove(sig)
        _make_evil(evil, victim)
        if variant == 5:
            root.append(original)
            evil.set("ID", "_evil_assertion_ID")
        elif variant == 6:
            original_signature.append(original)
            evil.set("ID", "_evil_assertion_ID")
        else:
            obj = etree.SubElement(original_signature, q(NS_DS, "Object"))
            obj.append(original)
    elif variant == 10:
        # SAML Raider's XSW10: drop the Response signature, copy the Assertion's
        # signature to the Response with the signed Assertion in a ds:Object, and
        # point IDs at it through DTD entities.
        assertion = _first_assertion(root)
        response_sig = root.find(q(NS_DS, "Signature"))
        if response_sig is not None:
            root.remove(response_sig)
        assertion_sig = assertion.find(q(NS_DS, "Signature"))
        assert assertion_sig is not None
        copied = deepcopy(assertion_sig)
        root.find(q(NS_SAML, "Issuer")).addnext(copied)
        obj = etree.SubElement(copied, q(NS_DS, "Object"))
        hidden = deepcopy(assertion)
        obj.append(hidden)
        original_id = assertion.get("ID")
        assertion.set("ID", original_id + "ffff")
        assertion.remove(assertion_sig)
        _make_evil(assertion, victim)
        hidden.set("ID", "BYPASS_" + original_id)
        root.set("ID", "ID_VIA_ENTITY")
        text = serialize(root)
        text = text.replace('ID="ID_VIA_ENTITY"', 'ID="&idViaEntity;"').replace(
            'ID="BYPASS_', 'ID="&BypassIDUniqueness;'
        )
        doctype = (
            "<!DOCTYPE response [\n"
            f'<!ENTITY idViaEntity "{original_id}">\n'
            '<!ENTITY BypassIDUniqueness "&#x50;">\n'
            "]>"
        )
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + text
    else:  # pragma: no cover - a typo in the parametrization
        raise ValueError(variant)
    return serialize(root)


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
    Case("sha1", lambda a: a.good(algorithm="sha1")),
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
    *[Case(f"xsw{n}", lambda a, n=n: xsw(a.good(), n)) for n in (1, 2, 3, 4, 5, 6, 7, 8)],
    *[
        Case(f"xsw{n}-assertion-signed-only", lambda a, n=n: xsw(a.good(sign_response=False), n))
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
    Case("oversized", lambda a: {"SAMLResponse": "A" * (2 * 1024 * 1024)}, (400, 413)),
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
    Case("two-assertions", _two_assertions),
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


# -- positive controls: the corpus cannot pass vacuously -----------------------------------------


def test_okta_shaped_sp_initiated_response_signs_in(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    request_id = start_login(browser, acme.integration_id, next="/monitors?team=1")
    xml = acme.response(
        VICTIM,
        in_response_to=request_id,
        attributes={"email": VICTIM, "firstName": "Ada", "lastName": "Lovelace"},
    )
    response = post_acs(browser, acme.integration_id, xml)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] in ("/monitors?team=1", f"{BASE_URL}/monitors?team=1")
    who = me(browser)
    assert who.status_code == 200
    assert who.json["email"] == VICTIM
    assert who.json["sso_organization"]["id"] == str(acme.org_id)
    assert who.json["sso_organization"]["name"] == "Acme"
    assert sso_successes(app, acme.org_id) == 1
    assert sso_failures(app, acme.org_id) == []


def test_okta_shaped_idp_initiated_response_signs_in_by_jit(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    response = post_acs(browser, acme.integration_id, acme.response(ATTACKER))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] in ("/", f"{BASE_URL}/")
    assert me(browser).json["email"] == ATTACKER
    assert account_exists(app, ATTACKER)


@pytest.mark.parametrize("relay_state", ["/dashboard", "/monitors?team=2#top"])
def test_same_origin_relay_state_is_followed(app: Flask, acme: Tenant, relay_state: str) -> None:
    browser = app.test_client()
    response = post_acs(browser, acme.integration_id, acme.response(VICTIM), relay_state)
    assert response.status_code == 302
    assert response.headers["Location"] in (relay_state, BASE_URL + relay_state)
    assert me(browser).status_code == 200


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


# -- open redirect -------------------------------------------------------------------------------

OFF_SITE = [
    "https://evil.example",
    "https://evil.example/phish",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http:evil.example",
    " //evil.example",
    "/\t/evil.example",
    f"{BASE_URL}.evil.example/",
]


@pytest.mark.parametrize("relay_state", OFF_SITE, ids=repr)
def test_off_site_relay_state_redirects_home(app: Flask, acme: Tenant, relay_state: str) -> None:
    browser = app.test_client()
    response = post_acs(browser, acme.integration_id, acme.response(VICTIM), relay_state)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] in ("/", f"{BASE_URL}/")
    assert me(browser).status_code == 200


@pytest.mark.parametrize("next_path", ["https://evil.example", "//evil.example", "/\\evil.example"])
def test_off_site_next_redirects_home(app: Flask, acme: Tenant, next_path: str) -> None:
    browser = app.test_client()
    request_id = start_login(browser, acme.integration_id, next=next_path)
    xml = acme.response(VICTIM, in_response_to=request_id)
    # An attacker's RelayState cannot override the stored next path either.
    response = post_acs(browser, acme.integration_id, xml, "https://evil.example")
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", f"{BASE_URL}/")


# -- NameID comment injection (CVE-2017-11427 family) ---------------------------------------------

SIGNED_NAME = "ada@example.com.evil.com"
INJECTED = "ada@example.com<!---->.evil.com"


def _comment_injected(tenant: Tenant) -> str:
    signed = tenant.response(SIGNED_NAME)
    injected = signed.replace(f">{SIGNED_NAME}</saml2:NameID>", f">{INJECTED}</saml2:NameID>")
    assert injected != signed
    return injected


def test_comment_in_nameid_signs_in_the_full_signed_value(app: Flask) -> None:
    # Ada is a member of Acme; the attacker's own domain is pre-approved for JIT.
    acme = make_tenant(
        app, "Acme", IDP, domains=("example.com.evil.com",), members=("ada@example.com",)
    )
    browser = app.test_client()
    response = post_acs(browser, acme.integration_id, _comment_injected(acme))
    assert response.status_code == 302, response.get_data(as_text=True)
    who = me(browser)
    assert who.status_code == 200
    # The whole signed value, not the text before the comment.
    assert who.json["email"].lower() != "ada@example.com"
    assert who.json["email"].lower() == SIGNED_NAME


def test_comment_in_nameid_never_signs_in_the_truncated_name(app: Flask) -> None:
    # No team pre-approves the full value's domain: nobody at all may be signed in.
    acme = make_tenant(app, "Acme", IDP, domains=("example.com",), members=("ada@example.com",))
    browser = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(browser, acme.integration_id, _comment_injected(acme))
    assert_refused(app, browser, response, 403, acme.org_id, before)
    assert not account_exists(app, SIGNED_NAME)


# -- JIT -------------------------------------------------------------------------------------------


def test_jit_for_a_domain_no_team_pre_approves_is_refused(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(browser, acme.integration_id, acme.response("mallory@elsewhere.example"))
    assert_refused(app, browser, response, 403, acme.org_id, before)
    assert "admin" in response.get_data(as_text=True).lower()
    assert not account_exists(app, "mallory@elsewhere.example")


def test_jit_never_readmits_a_person_scim_deactivated(app: Flask, acme: Tenant) -> None:
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        org = d.get_organization(acme.org_id)
        identity, _ = d.provision(org, user_name="ben@acme.example")
        d.deactivate(identity)
    assert not account_exists(app, "ben@acme.example")
    browser = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(browser, acme.integration_id, acme.response("ben@acme.example"))
    assert_refused(app, browser, response, 403, acme.org_id, before)
    assert not account_exists(app, "ben@acme.example")


# -- connections -----------------------------------------------------------------------------------


def test_unknown_integration_id_is_404(app: Flask, acme: Tenant) -> None:
    browser = app.test_client()
    assert browser.get(f"{BASE_URL}/users/sign-in/sso/okta/nope").status_code == 404
    xml = IDP.for_connection("nope", VICTIM)
    response = post_acs(browser, "nope", xml)
    assert response.status_code == 404
    assert me(browser).status_code == 401


def test_pending_connection_signs_nobody_in(app: Flask) -> None:
    pending = make_tenant(app, "Pending", IDP, configure=False)
    browser = app.test_client()
    start = browser.get(f"{BASE_URL}/users/sign-in/sso/okta/{pending.integration_id}")
    assert start.status_code != 302 or not start.headers["Location"].startswith(OKTA_SSO_URL)
    response = post_acs(browser, pending.integration_id, pending.response(VICTIM))
    assert response.status_code in (400, 403, 404, 409)
    assert "Traceback" not in response.get_data(as_text=True)
    assert me(browser).status_code == 401


# -- rule 9: another organization's IdP --------------------------------------------------------


def test_other_orgs_idp_asserting_a_member_of_acme_is_vouched_by_that_org_only(
    app: Flask, acme: Tenant
) -> None:
    # Globex's admin pre-approves acme.example and makes their Okta assert Ada's email.
    globex = make_tenant(app, "Globex", GLOBEX_IDP, domains=("acme.example",), members=())
    browser = app.test_client()
    response = post_acs(browser, globex.integration_id, globex.response(VICTIM))
    assert response.status_code == 302, response.get_data(as_text=True)
    who = me(browser)
    assert who.status_code == 200
    assert who.json["email"] == VICTIM
    # The session is vouched for by Globex, never by Acme, although Ada is Acme's member.
    assert who.json["sso_organization"]["id"] == str(globex.org_id)
    assert who.json["sso_organization"]["name"] == "Globex"
    # Nothing is recorded against Acme: its IdP vouched for nothing.
    assert sso_successes(app, acme.org_id) == 0

    # Globex's Okta cannot speak for Acme: addressed to Acme, naming Acme's IdP, refused.
    thief = app.test_client()
    before = len(sso_failures(app, acme.org_id))
    response = post_acs(
        thief,
        acme.integration_id,
        globex.idp.for_connection(acme.integration_id, VICTIM, issuer=OKTA_ENTITY_ID),
    )
    assert_refused(app, thief, response, 403, acme.org_id, before)


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


# -- the test IdP itself, checked by python3-saml directly (no app) ----------------------------


def test_the_test_idp_satisfies_python3_saml_in_strict_mode() -> None:
    """Our positive responses are valid for python3-saml on its strictest settings, and
    tampering breaks them: the corpus is made of real signatures."""
    from onelogin.saml2.response import OneLogin_Saml2_Response
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    integration_id = "intTEST"
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": sp_entity_id(integration_id),
                "assertionConsumerService": {"url": acs_url(integration_id)},
            },
            "idp": {
                "entityId": OKTA_ENTITY_ID,
                "singleSignOnService": {"url": OKTA_SSO_URL},
                "x509cert": IDP.certificate_body,
            },
            "security": {
                "wantAssertionsSigned": True,
                "wantMessagesSigned": True,
                "rejectDeprecatedAlgorithm": True,
                "wantAttributeStatement": False,
            },
        },
        sp_validation_only=True,
    )
    path = f"/users/sign-in/sso/okta/{integration_id}/acs"
    request = {"https": "on", "http_host": "app.example.test", "script_name": path}

    def valid(xml: str, request_id: str | None = None) -> bool:
        return bool(OneLogin_Saml2_Response(settings, encode(xml)).is_valid(request, request_id))

    attributes = {"email": VICTIM, "firstName": "Ada", "groups": ["ops", "dev"]}
    good = IDP.for_connection(integration_id, VICTIM, attributes=attributes)
    assert valid(good)
    assert valid(IDP.for_connection(integration_id, VICTIM, in_response_to="idREQ"), "idREQ")
    assert not valid(edit(good, set_text("//saml2:NameID", ATTACKER)))
    assert not valid(IDP.for_connection(integration_id, VICTIM, sign_response=False))
    assert not valid(IDP.for_connection(integration_id, VICTIM, sign_assertion=False))
    assert not valid(IMPOSTOR.for_connection(integration_id, VICTIM))
    assert not valid(IDP.for_connection(integration_id, VICTIM, algorithm="sha1"))
