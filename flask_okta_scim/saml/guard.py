"""A cheap look at a SAMLResponse's XML signatures before xmlsec runs them.

xmlsec runs every ``ds:Reference``'s transforms (digests first) before it
checks the ``ds:SignatureValue``, so a response signed with *any* key costs
whatever its transforms cost: an XSLT stylesheet with exponential template
calls, or an XPath filter evaluated over thousands of padding nodes, costs
seconds to hours of CPU for a few kilobytes posted by anybody. The check here
parses the document once, without a DTD, entities or the network, and allows
only the signature shapes identity providers send (one Reference to the
signed element, enveloped-signature and canonicalisation transforms, RSA
with SHA-2), so that python3-saml never sees anything else.
"""

from __future__ import annotations

import base64
import binascii
import re
import typing as t

from lxml import etree

from .errors import SamlError

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

#: Canonicalisation methods (of ``SignedInfo`` and as a transform): exclusive C14N
#: (what Okta and SimpleSAMLphp use, and what SAML Core §5.4.3 recommends) and
#: inclusive C14N 1.0 (required of every XML-DSig implementation). C14N 1.1 is
#: used by no SAML IdP we know of.
CANONICALIZATIONS = frozenset({EXC_C14N, EXC_C14N_COMMENTS, C14N, C14N_COMMENTS})
#: The transforms a Reference may list: enveloped-signature and a canonicalisation.
TRANSFORMS = CANONICALIZATIONS | {ENVELOPED}
#: Signature methods: RSA with SHA-2 (Okta signs with RSA-SHA256; SHA-1 is refused).
SIGNATURE_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    }
)
#: Digest methods: SHA-2.
DIGEST_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)
#: At most this many transforms per Reference (enveloped-signature, then C14N).
MAX_TRANSFORMS = 2
#: At most this many ``ds:Signature`` elements (the Response's and the Assertion's).
MAX_SIGNATURES = 2
#: Okta's responses nest 6 deep and hold a few dozen elements, one more per attribute
#: value: generous bounds.
MAX_DEPTH = 32
MAX_ELEMENTS = 10_000

#: Namespaces whose mere presence means a transform nobody legitimate sends.
_FORBIDDEN_NAMESPACES = (
    "http://www.w3.org/1999/XSL/Transform",
    "http://www.w3.org/2002/06/xmldsig-filter2",
)
_ID = "ID"
_BASE64_BLANKS = re.compile(rb"[ \t\r\n]+")

# Evaluated by libxml2: no Python work per element of a padded document.
_NAMESPACES = {"ds": NS_DS, "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
_count_elements = etree.XPath("count(//*)")
#: Any element at depth MAX_DEPTH + 1 (the root is at depth 1).
_too_deep = etree.XPath("boolean(/*" + "/*" * MAX_DEPTH + ")")
_forbidden = etree.XPath(
    " | ".join(f"//*[namespace-uri() = '{namespace}']" for namespace in _FORBIDDEN_NAMESPACES)
)
_ids = etree.XPath(f"//@{_ID}")
_signatures = etree.XPath("//ds:Signature", namespaces=_NAMESPACES)
_nested_signatures = etree.XPath("boolean(//ds:Signature//ds:Signature)", namespaces=_NAMESPACES)
# An encrypted assertion's ds:KeyInfo is checked by saml.encryption, not here.
_outside_signatures = etree.XPath(
    "//ds:*[not(ancestor-or-self::ds:Signature) and not(ancestor::saml:EncryptedAssertion)]",
    namespaces=_NAMESPACES,
)


def decode_response(raw: str) -> bytes:
    """The XML in a ``SAMLResponse`` form field; :class:`SamlError` (400) unless strict base64.

    Line breaks and blanks (some IdPs wrap base64) are dropped; any other
    character outside the base64 alphabet, or bad padding, is refused. Does
    not parse the XML.
    """
    try:
        data = _BASE64_BLANKS.sub(b"", raw.encode("ascii"))
        return base64.b64decode(data, validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise SamlError("SAMLResponse is not base64", status=400) from None


def check_signatures(xml: bytes) -> etree._Element:
    """Refuse (:class:`SamlError`, 400) any document whose signatures xmlsec should not run.

    The document must parse without a DOCTYPE, stay within :data:`MAX_DEPTH`
    and :data:`MAX_ELEMENTS`, have unique ``ID`` attributes, and hold at most
    :data:`MAX_SIGNATURES` ``ds:Signature`` elements, none inside another and
    no ``ds:`` element outside one. Each signature must be exactly
    ``SignedInfo``, ``SignatureValue`` and an optional ``KeyInfo`` holding
    ``X509Data/X509Certificate`` or ``KeyName``; its ``SignedInfo`` exactly
    one allowed ``CanonicalizationMethod``, one allowed ``SignatureMethod``
    and one ``Reference`` to ``#`` + the ``ID`` of the signature's parent,
    with at most :data:`MAX_TRANSFORMS` allowed transforms and an allowed
    ``DigestMethod``. No ``Object``, ``Manifest``, ``RetrievalMethod``,
    XSLT or XPath.

    This does not verify any signature, nor say which elements must be
    signed: python3-saml does that afterwards, on the same bytes. Returns the
    parsed document. An ``EncryptedAssertion``'s content is left to
    :func:`~flask_okta_scim.saml.encryption.check_encrypted_assertion`.
    """
    root = _parse(xml)
    if _count_elements(root) > MAX_ELEMENTS:
        _refuse(f"more than {MAX_ELEMENTS} elements")
    if _too_deep(root):
        _refuse(f"elements nested deeper than {MAX_DEPTH}")
    forbidden = _forbidden(root)
    if forbidden:
        _refuse(f"XSLT or XPath Filter 2.0 content ({forbidden[0].tag})")
    ids: list[str] = _ids(root)
    if len(set(ids)) != len(ids):
        _refuse("duplicate IDs")
    if _nested_signatures(root):
        _refuse("a ds:Signature inside another")
    signatures = _signatures(root)
    if len(signatures) > MAX_SIGNATURES:
        _refuse(f"more than {MAX_SIGNATURES} signatures")
    stray = _outside_signatures(root)
    if stray:
        _refuse(f"{stray[0].tag} outside a signature")
    for signature in signatures:
        _check_signature(signature)
    return root


def parse(xml: bytes) -> etree._Element:
    """Parse ``xml`` without a DTD, entities or the network; :class:`SamlError` (400) if bad."""
    return _parse(xml)


def _parse(xml: bytes) -> etree._Element:
    if b"<!DOCTYPE" in xml:
        # Before parsing: libxml2 would otherwise read the internal subset (entity
        # declarations) first. The check after parsing covers other encodings.
        _refuse("a DOCTYPE")
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        no_network=True,
        huge_tree=False,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(xml, parser=parser)
    except etree.XMLSyntaxError as e:
        raise SamlError(f"malformed SAMLResponse: {e}", status=400) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        _refuse("a DOCTYPE")
    return root


def _check_signature(signature: etree._Element) -> None:
    parent = signature.getparent()
    signed_id = parent.get(_ID) if parent is not None else None
    if not signed_id:
        _refuse("a signature whose parent has no ID")
    children = _children(signature)
    names = [_ds_name(child) for child in children]
    if names not in (
        ["SignedInfo", "SignatureValue"],
        ["SignedInfo", "SignatureValue", "KeyInfo"],
    ):
        _refuse(f"a ds:Signature made of {names} (only SignedInfo, SignatureValue, KeyInfo)")
    _check_signed_info(children[0], signed_id)
    _leaf(children[1])
    if len(children) == 3:
        _check_key_info(children[2])


def _check_signed_info(signed_info: etree._Element, signed_id: str) -> None:
    children = _children(signed_info)
    names = [_ds_name(child) for child in children]
    if names != ["CanonicalizationMethod", "SignatureMethod", "Reference"]:
        _refuse(
            f"a SignedInfo made of {names} "
            "(only CanonicalizationMethod, SignatureMethod and one Reference)"
        )
    c14n, method, reference = children
    _check_canonicalization(c14n, CANONICALIZATIONS)
    _algorithm(method, SIGNATURE_METHODS)
    _no_children(method)
    if set(reference.keys()) - {"URI", "Id"}:
        _refuse(f"Reference attributes {sorted(reference.keys())}")
    uri = reference.get("URI")
    if uri != f"#{signed_id}":
        _refuse(f"a Reference to {uri!r}, not to its signed element #{signed_id}")
    parts = _children(reference)
    names = [_ds_name(part) for part in parts]
    if names == ["Transforms", "DigestMethod", "DigestValue"]:
        _check_transforms(parts[0])
        parts = parts[1:]
    elif names != ["DigestMethod", "DigestValue"]:
        _refuse(f"a Reference made of {names}")
    _algorithm(parts[0], DIGEST_METHODS)
    _no_children(parts[0])
    _leaf(parts[1])


def _check_transforms(transforms: etree._Element) -> None:
    listed = _children(transforms)
    if not 1 <= len(listed) <= MAX_TRANSFORMS:
        _refuse(f"{len(listed)} transforms (1 to {MAX_TRANSFORMS} allowed)")
    seen: set[str] = set()
    for transform in listed:
        if _ds_name(transform) != "Transform":
            _refuse(f"{transform.tag} in Transforms")
        algorithm = _check_canonicalization(transform, TRANSFORMS)
        if algorithm in seen:
            _refuse(f"transform {algorithm} listed twice")
        seen.add(algorithm)


def _check_canonicalization(element: etree._Element, allowed: frozenset[str]) -> str:
    """Check ``Algorithm``; only exclusive C14N may hold one ``InclusiveNamespaces``."""
    algorithm = _algorithm(element, allowed)
    content = _children(element)
    if not content:
        return algorithm
    if (
        algorithm in (EXC_C14N, EXC_C14N_COMMENTS)
        and len(content) == 1
        and content[0].tag == f"{{{NS_EXC_C14N}}}InclusiveNamespaces"
        and set(content[0].keys()) <= {"PrefixList"}
    ):
        _no_children(content[0])
        return algorithm
    _refuse(f"content in {element.tag} {algorithm}")


def _check_key_info(key_info: etree._Element) -> None:
    """Only an X.509 certificate or a key name: nothing xmlsec would fetch or derive."""
    for child in _children(key_info):
        name = _ds_name(child)
        if name == "KeyName":
            _leaf(child)
        elif name == "X509Data":
            for item in _children(child):
                if _ds_name(item) != "X509Certificate":
                    _refuse(f"{item.tag} in X509Data")
                _leaf(item)
        else:
            _refuse(f"{child.tag} in KeyInfo")


def _children(element: etree._Element) -> list[etree._Element]:
    """Child elements; no comment, processing instruction or non-blank text around them."""
    if element.text and element.text.strip():
        _refuse(f"text in {element.tag}")
    children = []
    for child in element:
        if not isinstance(child.tag, str):
            _refuse(f"a comment or processing instruction in {element.tag}")
        if child.tail and child.tail.strip():
            _refuse(f"text in {element.tag}")
        children.append(child)
    return children


def _no_children(element: etree._Element) -> None:
    if _children(element):
        _refuse(f"content in {element.tag}")


def _leaf(element: etree._Element) -> None:
    """A value element (DigestValue, SignatureValue, ...): text only."""
    if len(element):
        _refuse(f"content in {element.tag}")


def _ds_name(element: etree._Element) -> str:
    """The local name of a ``ds:`` element; another namespace's element is refused."""
    name = etree.QName(element)
    if name.namespace != NS_DS:
        _refuse(f"{element.tag} in a signature")
    return str(name.localname)


def _algorithm(element: etree._Element, allowed: frozenset[str]) -> str:
    algorithm: str | None = element.get("Algorithm")
    if algorithm is None or algorithm not in allowed:
        _refuse(f"{etree.QName(element).localname} algorithm {algorithm!r} is not allowed")
    return algorithm


def _refuse(what: str) -> t.NoReturn:
    raise SamlError(f"unsafe signature: {what}", status=400)


__all__ = [
    "CANONICALIZATIONS",
    "DIGEST_METHODS",
    "MAX_ELEMENTS",
    "SIGNATURE_METHODS",
    "TRANSFORMS",
    "check_signatures",
    "decode_response",
    "parse",
]
