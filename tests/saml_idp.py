"""The suite's Okta, and helpers to drive the sign-in.

:class:`TestIdP` is the package's simulated Okta
(:class:`flask_okta_scim.testing.idp.SimulatedIdP`: Okta-shaped responses, really
signed with python3-saml's own signer) with the suite's keys and the app's public
URL. Nothing on the service provider side is mocked: the endpoint checks these
signatures for real.

Two ways to build bad responses:

* *mutate, then sign* (an IdP-signed response that is semantically wrong):
  pass keyword overrides (``audience=``, ``issuer=``, ``not_on_or_after=``...) or
  a ``tweak`` callable that edits the unsigned ``Response`` element in place;
* *sign, then mutate* (tampering by an attacker): edit the returned XML with
  :func:`parse` / :func:`serialize` (lxml) or plain string replacement.

Keys: ``tests/data/idp.key``/``idp.crt`` (the tenant's Okta, CN "Test Okta IdP")
and ``tests/data/other-idp.key``/``other-idp.crt`` (somebody else's IdP). They
are self-signed RSA-2048 / SHA-256 test keys, valid for ten years, and protect
nothing.

Helpers: :func:`start_login` (SP-initiated: GET the sign-in URL, return the
AuthnRequest ID), :func:`post_acs` (POST a response to the ACS, like the
browser's auto-submitted form), :func:`me` (``GET /me``). Every request goes to
:data:`BASE_URL`, the app's configured public URL, so cookies are scoped as in
production.
"""

from __future__ import annotations

import base64
import typing as t
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from flask_okta_scim.testing.idp import ALGORITHMS as ALGORITHMS
from flask_okta_scim.testing.idp import NAMEID_EMAIL as NAMEID_EMAIL
from flask_okta_scim.testing.idp import NAMEID_UNSPECIFIED as NAMEID_UNSPECIFIED
from flask_okta_scim.testing.idp import NS_DS as NS_DS
from flask_okta_scim.testing.idp import NS_SAML as NS_SAML
from flask_okta_scim.testing.idp import NS_SAMLP as NS_SAMLP
from flask_okta_scim.testing.idp import NSMAP as NSMAP
from flask_okta_scim.testing.idp import OKTA_ENTITY_ID as OKTA_ENTITY_ID
from flask_okta_scim.testing.idp import OKTA_SSO_URL as OKTA_SSO_URL
from flask_okta_scim.testing.idp import SAME as SAME
from flask_okta_scim.testing.idp import SSO_PREFIX as SSO_PREFIX
from flask_okta_scim.testing.idp import STATUS_RESPONDER as STATUS_RESPONDER
from flask_okta_scim.testing.idp import STATUS_SUCCESS as STATUS_SUCCESS
from flask_okta_scim.testing.idp import SimulatedIdP
from flask_okta_scim.testing.idp import When as When
from flask_okta_scim.testing.idp import new_id as new_id
from flask_okta_scim.testing.idp import parse as parse
from flask_okta_scim.testing.idp import qname
from flask_okta_scim.testing.idp import saml_time as saml_time
from flask_okta_scim.testing.idp import serialize as serialize
from tests.conftest import BASE_URL  # the app's public base URL (OKTA_SCIM_BASE_URL)

DATA = Path(__file__).parent / "data"
IDP_KEY = DATA / "idp.key"
IDP_CERT = DATA / "idp.crt"
OTHER_IDP_KEY = DATA / "other-idp.key"
OTHER_IDP_CERT = DATA / "other-idp.crt"


def sp_entity_id(integration_id: str) -> str:
    """The SP entity ID (and Audience) of a connection: its metadata URL."""
    return f"{BASE_URL}{SSO_PREFIX}/{integration_id}/metadata"


def acs_url(integration_id: str) -> str:
    """The ACS URL (= Destination = Recipient) of a connection."""
    return f"{BASE_URL}{SSO_PREFIX}/{integration_id}/acs"


def sign_in_url(integration_id: str) -> str:
    """The SP-initiated sign-in URL of a connection."""
    return f"{BASE_URL}{SSO_PREFIX}/{integration_id}"


class TestIdP(SimulatedIdP):
    """The package's simulated Okta with the suite's keys and public URL.

    ``TestIdP(IDP_KEY, IDP_CERT)`` is the tenant's Okta app;
    ``TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT)`` signs with someone else's key.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        key_path: str | Path = IDP_KEY,
        cert_path: str | Path = IDP_CERT,
        entity_id: str = OKTA_ENTITY_ID,
    ) -> None:
        super().__init__(Path(key_path).read_text(), Path(cert_path).read_text(), entity_id)

    def for_connection(self, integration_id: str, name_id: str, **kwargs: t.Any) -> str:
        """A response addressed to a connection of the suite's app (``BASE_URL``)."""
        kwargs.setdefault("base_url", BASE_URL)
        return super().for_connection(integration_id, name_id, **kwargs)


# -- driving the app ---------------------------------------------------------------------------


def encode(xml: str | bytes) -> str:
    """Base64 a Response for the ``SAMLResponse`` form field (HTTP-POST binding)."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    return base64.b64encode(data).decode("ascii")


def post_acs(
    client: t.Any,
    integration_id: str,
    xml: str | bytes | None,
    relay_state: str | None = None,
    *,
    saml_response: str | None = None,
) -> t.Any:
    """POST to a connection's ACS as the browser's auto-submitted form does.

    ``xml`` is base64-encoded into ``SAMLResponse``; pass ``xml=None`` and a raw
    ``saml_response`` to send something else verbatim (or neither, to leave
    the field out). Redirects are not followed.
    """
    form: dict[str, str] = {}
    if xml is not None:
        form["SAMLResponse"] = encode(xml)
    elif saml_response is not None:
        form["SAMLResponse"] = saml_response
    if relay_state is not None:
        form["RelayState"] = relay_state
    return client.post(acs_url(integration_id), data=form)


def start_login(client: t.Any, integration_id: str, next: str | None = None) -> str:
    """Start an SP-initiated sign-in in ``client``'s browser; return the AuthnRequest ID.

    Checks that the app redirects to the IdP's SSO URL with a ``SAMLRequest``
    (HTTP-Redirect binding), and reads the request's ``ID`` from it.
    """
    url = sign_in_url(integration_id)
    if next is not None:
        url += "?" + urlencode({"next": next})
    response = client.get(url)
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert "SAMLRequest" in query, response.headers["Location"]
    request_xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0])
    request = etree.fromstring(request_xml, parser=etree.XMLParser(resolve_entities=False))
    assert request.tag == qname(NS_SAMLP, "AuthnRequest"), request.tag
    return t.cast(str, request.get("ID"))


def me(client: t.Any) -> t.Any:
    """``GET /me`` in ``client``'s browser."""
    return client.get(f"{BASE_URL}/me")
