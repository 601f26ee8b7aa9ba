"""Signatures that would make xmlsec work hard (issue 10): refused before xmlsec runs, cheaply.

xmlsec computes every Reference's digest, running its transforms, before it
checks the SignatureValue; so a response signed with *any* key, or a genuine
Okta response with a transform added, costs what its transforms cost. An XSLT
stylesheet whose templates each call the next twice doubles the work per
template; an XPath transform is evaluated once per node of the signed element.

Each case is posted to Acme's ACS twice: built on a response signed by Acme's
Okta (the trusted key) and on one signed by another key. Cases marked
``resign`` are then signed again over their new shape, so the signature is
*valid* for that key: the guard refuses the shape itself, not a signature that
happens not to verify. The expensive ones (XSLT, XPath over padding) are
edited after signing: signing them again would run the transform here too.

Every case must be refused as any refused sign-in (see :mod:`tests.saml.attacks`),
with a logged reason naming what was refused, and cost at most
:data:`MAX_COST_RATIO` times a good sign-in measured in the same test (CPU time
of the test client's request, medians).
"""

from __future__ import annotations

import base64
import logging
import statistics
import time
import typing as t
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass

import pytest
import xmlsec
from flask import Flask
from lxml import etree
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from flask_okta_scim.saml.errors import SamlError
from flask_okta_scim.saml.guard import MAX_ELEMENTS
from flask_okta_scim.saml.guard import check_signatures
from flask_okta_scim.saml.guard import decode_response
from flask_okta_scim.saml.service import request_data
from flask_okta_scim.saml.settings import saml_settings
from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import IMPOSTOR
from tests.saml.attacks.support import VICTIM
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import assert_refused
from tests.saml.attacks.support import sso_failures
from tests.saml.attacks.xml_surgery import q
from tests.saml_idp import NS_DS
from tests.saml_idp import NS_SAML
from tests.saml_idp import NS_SAMLP
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import TestIdP
from tests.saml_idp import acs_url
from tests.saml_idp import me
from tests.saml_idp import parse
from tests.saml_idp import post_acs
from tests.saml_idp import serialize
from tests.saml_idp import sp_entity_id

#: A refused hostile response may cost at most this many good sign-ins.
MAX_COST_RATIO = 5

XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
NS_XSL = "http://www.w3.org/1999/XSL/Transform"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N11 = "http://www.w3.org/2006/12/xml-c14n11"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
PAD = "urn:example:padding"

#: Template calls double per level: 2**28 calls for a stylesheet of a few kilobytes.
XSLT_LEVELS = 28
#: The XPath transform runs once per node: cubic in these padding elements.
XPATH_PADDING = 1000


# -- building hostile signatures ---------------------------------------------------------------


def ds(tag: str) -> str:
    return q(NS_DS, tag)


def exponential_stylesheet(levels: int) -> etree._Element:
    """A stylesheet whose template ``t<i>`` calls ``t<i+1>`` twice: 2**levels calls."""
    parts = [f'<xsl:stylesheet xmlns:xsl="{NS_XSL}" version="1.0">']
    parts.append('<xsl:template match="/"><xsl:call-template name="t0"/></xsl:template>')
    for i in range(levels):
        call = f'<xsl:call-template name="t{i + 1}"/>'
        parts.append(f'<xsl:template name="t{i}">{call}{call}</xsl:template>')
    parts.append(f'<xsl:template name="t{levels}"/></xsl:stylesheet>')
    return etree.fromstring("".join(parts))


def padding(parent: etree._Element, count: int, tag: str = "p") -> etree._Element:
    """``count`` empty elements in a ``samlp:Extensions`` (schema-valid) after the Issuer."""
    extensions = etree.Element(q(NS_SAMLP, "Extensions"), nsmap={"pad": PAD})
    for _ in range(count):
        etree.SubElement(extensions, q(PAD, tag))
    status = parent.find(q(NS_SAMLP, "Status"))
    assert status is not None
    status.addprevious(extensions)
    return extensions


def signatures(root: etree._Element) -> list[etree._Element]:
    return list(root.iter(ds("Signature")))


def response_signature(root: etree._Element) -> etree._Element:
    found = root.find(ds("Signature"))
    assert found is not None
    return found


def set_last_transform(root: etree._Element, algorithm: str) -> etree._Element:
    """Replace the Response signature's C14N transform (enveloped-signature, *this*)."""
    transforms = response_signature(root).find(f".//{ds('Transforms')}")
    assert transforms is not None
    last = transforms[-1]
    last.clear()
    last.set("Algorithm", algorithm)
    return t.cast(etree._Element, last)


def _xslt(root: etree._Element) -> None:
    set_last_transform(root, XSLT).append(exponential_stylesheet(XSLT_LEVELS))


def _xpath_over_padding(root: etree._Element) -> None:
    padding(root, XPATH_PADDING)
    transform = set_last_transform(root, XPATH)
    etree.SubElement(transform, ds("XPath")).text = "count(//. | //@* | //namespace::*) > 0"


def _xpath_filter2(root: etree._Element) -> None:
    transform = set_last_transform(root, XPATH_FILTER2)
    etree.SubElement(
        transform, q(XPATH_FILTER2, "XPath"), Filter="subtract", nsmap={"dsig-xpath": XPATH_FILTER2}
    ).text = "//*[local-name()='NameID']"


def _second_reference(root: etree._Element) -> None:
    reference = response_signature(root).find(f"{ds('SignedInfo')}/{ds('Reference')}")
    twin = deepcopy(reference)
    twin.set("URI", "#" + _assertion(root).get("ID"))
    reference.addnext(twin)


def _reference_to_assertion(root: etree._Element) -> None:
    for reference in response_signature(root).iter(ds("Reference")):
        reference.set("URI", "#" + _assertion(root).get("ID"))


def _reference_to(uri: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        for reference in response_signature(root).iter(ds("Reference")):
            reference.set("URI", uri)

    return change


def _duplicate_id(root: etree._Element) -> None:
    extensions = padding(root, 1)
    extensions[0].set("ID", _assertion(root).get("ID"))


def _manifest(root: etree._Element) -> None:
    signature = response_signature(root)
    manifest = etree.SubElement(etree.SubElement(signature, ds("Object")), ds("Manifest"))
    reference = deepcopy(signature.find(f"{ds('SignedInfo')}/{ds('Reference')}"))
    reference.set("URI", "#" + _assertion(root).get("ID"))
    manifest.append(reference)


def _object_with_signature(root: etree._Element) -> None:
    nested = deepcopy(_assertion(root).find(ds("Signature")))
    etree.SubElement(response_signature(root), ds("Object")).append(nested)


def _retrieval_method(root: etree._Element) -> None:
    key_info = response_signature(root).find(ds("KeyInfo"))
    key_info.insert(
        0,
        etree.Element(
            ds("RetrievalMethod"),
            URI="http://attacker.example/key",
            Type="http://www.w3.org/2000/09/xmldsig#X509Data",
        ),
    )


def _key_value(root: etree._Element) -> None:
    key_info = response_signature(root).find(ds("KeyInfo"))
    value = etree.SubElement(key_info, ds("KeyValue"))
    etree.SubElement(etree.SubElement(value, ds("RSAKeyValue")), ds("Modulus")).text = "AQAB"


def _method(tag: str, algorithm: str) -> Callable[[etree._Element], None]:
    """Every signature's ``tag`` (``SignatureMethod``...) names ``algorithm``, with no content."""

    def change(root: etree._Element) -> None:
        for node in root.iter(ds(tag)):
            node.clear()
            node.set("Algorithm", algorithm)

    return change


def _hmac_truncated(root: etree._Element) -> None:
    # CVE-2009-0217: an HMAC truncated to no bits.
    _method("SignatureMethod", HMAC_SHA256)(root)
    for method in root.iter(ds("SignatureMethod")):
        etree.SubElement(method, ds("HMACOutputLength")).text = "0"


def _third_transform(root: etree._Element) -> None:
    transforms = response_signature(root).find(f".//{ds('Transforms')}")
    etree.SubElement(transforms, ds("Transform"), Algorithm=C14N)


def _content_in_transform(root: etree._Element) -> None:
    transforms = response_signature(root).find(f".//{ds('Transforms')}")
    etree.SubElement(transforms[-1], ds("XPath")).text = "true()"


def _fifty_signatures(root: etree._Element) -> None:
    original = _assertion(root).find(ds("Signature"))
    extensions = padding(root, 0)
    for _ in range(50):
        extensions.append(deepcopy(original))


def _deep_nesting(root: etree._Element) -> None:
    node = padding(root, 1)[0]
    for _ in range(200):
        node = etree.SubElement(node, q(PAD, "d"))


def _many_elements(root: etree._Element) -> None:
    padding(root, MAX_ELEMENTS + 1)


def _assertion(root: etree._Element) -> etree._Element:
    found = root.find(q(NS_SAML, "Assertion"))
    assert found is not None
    return found


def resign(xml: str, idp: TestIdP) -> str:
    """Sign every signature again over its current shape (the Assertion's first)."""
    root = parse(xml)
    xmlsec.tree.add_ids(root, ["ID"])
    key = xmlsec.Key.from_memory(idp.key_pem, xmlsec.constants.KeyDataFormatPem)
    key.load_cert_from_memory(idp.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    for signature in reversed(signatures(root)):
        context = xmlsec.SignatureContext()
        context.key = key
        context.sign(signature)
    return serialize(root)


def billion_laughs(xml: str) -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    doctype = "<!DOCTYPE r [" + "".join(entities) + "]>"
    return doctype + xml.replace(f"{VICTIM}</saml2:NameID>", "&lol9;</saml2:NameID>", 1)


# -- the cases -----------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    #: Edits the signed Response (``after``), or the unsigned one before signing (``tweak``).
    after: Callable[[etree._Element], None] | None = None
    tweak: Callable[[etree._Element], None] | None = None
    #: Sign the edited Response again (valid signatures over the hostile shape).
    resign: bool = False
    #: The test IdP's own ``algorithm`` for both signatures.
    algorithm: str = "sha256"
    #: Edits the final text.
    text: Callable[[str], str] | None = None
    #: Words of the logged reason.
    reason: str = "unsafe signature"

    def build(self, tenant: Tenant, idp: TestIdP) -> str:
        xml = idp.for_connection(
            tenant.integration_id, VICTIM, algorithm=self.algorithm, tweak=self.tweak
        )
        if self.after is not None:
            root = parse(xml)
            self.after(root)
            xml = serialize(root)
        if self.resign:
            xml = resign(xml, idp)
        return self.text(xml) if self.text else xml


CASES = [
    # -- transforms that cost --------------------------------------------------------------
    Case("xslt-exponential-templates", after=_xslt, reason="XSLT"),
    Case("xpath-over-padding", after=_xpath_over_padding, reason=XPATH),
    Case("xpath-filter2", after=_xpath_filter2, resign=True, reason="XPath Filter 2.0"),
    Case("three-transforms", after=_third_transform, resign=True, reason="3 transforms"),
    Case("content-in-c14n-transform", after=_content_in_transform, reason="content in"),
    # -- references --------------------------------------------------------------------------
    Case("two-references", after=_second_reference, resign=True, reason="SignedInfo made of"),
    Case(
        "reference-to-another-element",
        after=_reference_to_assertion,
        resign=True,
        reason="a Reference to",
    ),
    Case("reference-to-whole-document", after=_reference_to(""), reason="a Reference to ''"),
    Case("reference-xpointer", after=_reference_to("#xpointer(/)"), reason="a Reference to"),
    Case("duplicate-ids", tweak=_duplicate_id, reason="duplicate ID"),
    Case("manifest", after=_manifest, resign=True, reason="ds:Signature made of"),
    Case("object-with-nested-signature", after=_object_with_signature, reason="inside another"),
    # -- key info ----------------------------------------------------------------------------
    Case("retrieval-method", after=_retrieval_method, resign=True, reason="RetrievalMethod"),
    Case("key-value", after=_key_value, reason="KeyValue"),
    # -- algorithms --------------------------------------------------------------------------
    Case("sha1", algorithm="sha1", reason="rsa-sha1"),
    Case("sha1-digest", after=_method("DigestMethod", SHA1), resign=True, reason="xmldsig#sha1"),
    Case("sha1-signature", after=_method("SignatureMethod", RSA_SHA1), reason="rsa-sha1"),
    Case("hmac-truncated", after=_hmac_truncated, reason="hmac-sha256"),
    Case("ecdsa", after=_method("SignatureMethod", ECDSA_SHA256), reason="ecdsa-sha256"),
    Case(
        "unknown-signature-method",
        after=_method("SignatureMethod", "urn:example:rot13"),
        reason="urn:example:rot13",
    ),
    Case(
        "unknown-digest-method",
        after=_method("DigestMethod", "urn:example:crc32"),
        reason="urn:example:crc32",
    ),
    Case(
        "c14n11",
        after=_method("CanonicalizationMethod", C14N11),
        resign=True,
        reason="xml-c14n11",
    ),
    Case(
        "unknown-canonicalization",
        after=_method("CanonicalizationMethod", "urn:example:c14n"),
        reason="urn:example:c14n",
    ),
    # -- size and shape of the document ------------------------------------------------------
    Case("fifty-signatures", after=_fifty_signatures, reason="more than 2 signatures"),
    Case("deep-nesting", tweak=_deep_nesting, reason="nested deeper"),
    Case("many-elements", tweak=_many_elements, reason="elements"),
    Case("doctype-billion-laughs", text=billion_laughs, reason="DOCTYPE"),
]

KEYS = {"trusted-key": IDP, "untrusted-key": IMPOSTOR}


# -- cost ------------------------------------------------------------------------------------


def timed_post(browser: t.Any, tenant: Tenant, xml: str) -> tuple[float, t.Any]:
    """Post ``xml`` to the tenant's ACS; CPU seconds of the request, and the response."""
    start = time.process_time()
    response = post_acs(browser, tenant.integration_id, xml)
    return time.process_time() - start, response


def good_sign_in_cost(app: Flask, tenant: Tenant, runs: int = 5) -> float:
    """Median CPU time of a complete, successful sign-in (the response built beforehand)."""
    costs = []
    for _ in range(runs + 1):
        browser = app.test_client()
        xml = tenant.response(VICTIM)
        elapsed, _ = timed_post(browser, tenant, xml)
        assert me(browser).status_code == 200, "the good sign-in failed"
        costs.append(elapsed)
    return statistics.median(costs[1:])  # the first one warms caches up


@pytest.mark.parametrize("key", list(KEYS))
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_signature_is_refused_cheaply(
    app: Flask, acme: Tenant, case: Case, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    xml = case.build(acme, KEYS[key])
    good = good_sign_in_cost(app, acme)
    costs = []
    for _ in range(3):
        browser = app.test_client()
        before = len(sso_failures(app, acme.org_id))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="flask_okta_scim.sso"):
            elapsed, response = timed_post(browser, acme, xml)
        costs.append(elapsed)
        detail = assert_refused(app, browser, response, 400, acme.org_id, before)
        assert case.reason in detail["reason"], detail["reason"]
        assert detail["reason"].startswith("unsafe signature: "), detail["reason"]
        logged = [r.getMessage() for r in caplog.records if "sign-in refused" in r.getMessage()]
        assert len(logged) == 1 and case.reason in logged[0], logged
    hostile = statistics.median(costs)
    assert hostile <= MAX_COST_RATIO * good, (
        f"a refused {case.id} response cost {hostile * 1000:.1f} ms of CPU, "
        f"a good sign-in {good * 1000:.1f} ms"
    )


def test_enough_cases() -> None:
    assert len(CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


# -- without the guard -----------------------------------------------------------------------


def test_without_the_guard_the_xslt_case_costs_exponential_time(acme: Tenant) -> None:
    """python3-saml alone runs the stylesheet before it finds the signature invalid.

    Small stylesheets only: every extra template doubles the cost, so
    :data:`XSLT_LEVELS` would take minutes here.
    """
    settings = OneLogin_Saml2_Settings(
        saml_settings(
            sp_entity_id=sp_entity_id(acme.integration_id),
            acs_url=acs_url(acme.integration_id),
            idp_entity_id=IDP.entity_id,
            idp_sso_url=OKTA_SSO_URL,
            certificates=[IDP.certificate],
        )
    )
    request = request_data(acs_url(acme.integration_id))

    def unguarded(levels: int) -> float:
        root = parse(acme.response(VICTIM))
        set_last_transform(root, XSLT).append(exponential_stylesheet(levels))
        encoded = base64_of(serialize(root))
        runs = []
        for _ in range(3):
            response = OneLogin_Saml2_Response(settings, encoded)
            start = time.process_time()
            assert not response.is_valid(request)
            runs.append(time.process_time() - start)
        assert "Signature validation failed" in str(response.get_error())
        return statistics.median(runs)

    small, larger = unguarded(12), unguarded(20)
    assert larger > 8 * small, (small, larger)  # 2**8 times the template calls


def base64_of(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


# -- the guard on its own ------------------------------------------------------------------------


@pytest.mark.parametrize("idp", [IDP, IMPOSTOR], ids=list(KEYS))
def test_okta_shaped_signatures_pass_the_guard(acme: Tenant, idp: TestIdP) -> None:
    def response(**kwargs: t.Any) -> bytes:
        return idp.for_connection(acme.integration_id, VICTIM, **kwargs).encode()

    check_signatures(response())  # exc-c14n with an InclusiveNamespaces PrefixList
    check_signatures(response(sign_response=False))
    check_signatures(response(algorithm="sha512", attributes={"groups": ["a", "b"]}))


def test_other_allowed_algorithms_pass_the_guard(acme: Tenant) -> None:
    """Inclusive C14N 1.0, RSA-SHA384 and SHA-384, validly signed."""
    root = parse(acme.response(VICTIM))
    _method("CanonicalizationMethod", C14N)(root)
    _method("SignatureMethod", RSA_SHA384)(root)
    _method("DigestMethod", SHA384)(root)
    for transforms in root.iter(ds("Transforms")):
        transforms[-1].clear()
        transforms[-1].set("Algorithm", C14N)
    check_signatures(resign(serialize(root), IDP).encode())


def test_the_guard_refuses_the_xslt_case_without_running_it(acme: Tenant) -> None:
    root = parse(acme.response(VICTIM))
    _xslt(root)
    with pytest.raises(SamlError, match="XSLT") as raised:
        check_signatures(serialize(root).encode())
    assert raised.value.status == 400


@pytest.mark.parametrize(
    "raw",
    ["PHg+", "PHg+\r\nPC94Pg==", " PHg+PC94Pg== \n"],
    ids=["plain", "wrapped", "padded-with-blanks"],
)
def test_base64_with_line_breaks_is_decoded(raw: str) -> None:
    assert decode_response(raw) in (b"<x>", b"<x></x>")


@pytest.mark.parametrize("raw", ["PHg+%", "PHg", "PHg+PC94Pg==PHg+", "PHg+é", "PH-+"])
def test_bad_base64_is_a_400(raw: str) -> None:
    with pytest.raises(SamlError) as raised:
        decode_response(raw)
    assert raised.value.status == 400


@pytest.mark.parametrize(
    "xml",
    [b"", b"<x>", b'<?xml version="1.0"?><!DOCTYPE x><x/>', b"<x>&unknown;</x>"],
    ids=["empty", "unclosed", "doctype", "undefined-entity"],
)
def test_unreadable_xml_is_a_400(xml: bytes) -> None:
    with pytest.raises(SamlError) as raised:
        check_signatures(xml)
    assert raised.value.status == 400
