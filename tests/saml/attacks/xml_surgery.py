"""XML surgery on signed responses: sign, then mutate; and the XML Signature Wrapping
variants of SAML Raider (XSW1-8 and 10).
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from copy import deepcopy

from lxml import etree

from tests.saml.attacks.support import VICTIM
from tests.saml_idp import NS_DS
from tests.saml_idp import NS_SAML
from tests.saml_idp import NS_SAMLP
from tests.saml_idp import NSMAP
from tests.saml_idp import parse
from tests.saml_idp import serialize

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
