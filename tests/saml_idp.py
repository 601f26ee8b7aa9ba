"""A test SAML identity provider shaped like Okta, and helpers to drive the sign-in.

:class:`TestIdP` builds ``<saml2p:Response>`` documents the way Okta sends them
(``saml2p:``/``saml2:`` prefixes, ``ID="id<digits>"``, a bearer
``SubjectConfirmation``, an ``AudienceRestriction``, an ``AuthnStatement`` and,
when attributes are given, an ``AttributeStatement`` with ``xs:string`` values)
and really signs them with python3-saml's own signer,
``OneLogin_Saml2_Utils.add_sign`` (xmlsec, exclusive C14N, RSA-SHA256 by
default). As Okta does by default, the Assertion is signed first (serialised
alone, signed, spliced back), then the whole Response. Nothing on the service
provider side is mocked: the endpoint checks these signatures for real.

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
import secrets
import typing as t
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from tests.conftest import BASE_URL  # the app's public base URL (OKTA_SCIM_BASE_URL)

DATA = Path(__file__).parent / "data"
IDP_KEY = DATA / "idp.key"
IDP_CERT = DATA / "idp.crt"
OTHER_IDP_KEY = DATA / "other-idp.key"
OTHER_IDP_CERT = DATA / "other-idp.crt"

SSO_PREFIX = "/users/sign-in/sso/okta"

#: What a tenant's Okta app looks like (entity ID ``http://www.okta.com/exk...``).
OKTA_ENTITY_ID = "http://www.okta.com/exkTEST"
OKTA_SSO_URL = "https://acme.okta.example/app/x/exkTEST/sso/saml"

NS_SAMLP = C.NS_SAMLP
NS_SAML = C.NS_SAML
NS_DS = C.NS_DS
NS_XS = C.NS_XS
NS_XSI = C.NS_XSI
#: Namespace prefixes for XPath on the documents built here.
NSMAP = {"saml2p": NS_SAMLP, "saml2": NS_SAML, "ds": NS_DS, "xs": NS_XS, "xsi": NS_XSI}

STATUS_SUCCESS = C.STATUS_SUCCESS
STATUS_RESPONDER = C.STATUS_RESPONDER
NAMEID_EMAIL = C.NAMEID_EMAIL_ADDRESS
NAMEID_UNSPECIFIED = C.NAMEID_UNSPECIFIED
ENTITY_FORMAT = C.NAMEID_ENTITY

#: ``algorithm`` argument -> (signature method, digest method).
ALGORITHMS = {
    "sha1": (C.RSA_SHA1, C.SHA1),
    "sha256": (C.RSA_SHA256, C.SHA256),
    "sha512": (C.RSA_SHA512, C.SHA512),
}

#: A time: an absolute ``datetime``, or seconds relative to now (negative = past).
When = datetime | int | float

#: A marker meaning "same value as the Response's InResponseTo".
SAME = object()


def sp_entity_id(integration_id: str) -> str:
    """The SP entity ID (and Audience) of a connection: its metadata URL."""
    return f"{BASE_URL}{SSO_PREFIX}/{integration_id}/metadata"


def acs_url(integration_id: str) -> str:
    """The ACS URL (= Destination = Recipient) of a connection."""
    return f"{BASE_URL}{SSO_PREFIX}/{integration_id}/acs"


def sign_in_url(integration_id: str) -> str:
    """The SP-initiated sign-in URL of a connection."""
    return f"{BASE_URL}{SSO_PREFIX}/{integration_id}"


def new_id() -> str:
    """An ID as Okta makes them: ``id`` followed by 25 digits."""
    return "id" + "".join(secrets.choice("0123456789") for _ in range(25))


def saml_time(when: When, now: datetime | None = None) -> str:
    """Format ``when`` as a SAML ``xs:dateTime`` in UTC, with milliseconds, as Okta does."""
    if not isinstance(when, datetime):
        when = (now or datetime.now(timezone.utc)) + timedelta(seconds=when)
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse(xml: str | bytes) -> etree._Element:
    """Parse XML built here (trusted input) into an lxml element."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    return etree.fromstring(data, parser=etree.XMLParser(remove_blank_text=False))


def serialize(element: etree._Element) -> str:
    """Serialise an lxml element back to a string, without an XML declaration."""
    return etree.tostring(element, encoding="unicode")


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


class TestIdP:
    """An Okta-shaped SAML identity provider for tests.

    ``TestIdP(IDP_KEY, IDP_CERT)`` is the tenant's Okta app;
    ``TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT)`` signs with someone else's key.
    :attr:`certificate` is the PEM text to configure on the connection.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        key_path: str | Path = IDP_KEY,
        cert_path: str | Path = IDP_CERT,
        entity_id: str = OKTA_ENTITY_ID,
    ) -> None:
        self.key_pem = Path(key_path).read_text()
        self.cert_pem = Path(cert_path).read_text()
        self.entity_id = entity_id

    @property
    def certificate(self) -> str:
        """The IdP's X.509 signing certificate, PEM."""
        return self.cert_pem

    @property
    def certificate_body(self) -> str:
        """The certificate's base64 body (no ``-----`` lines), as Okta metadata shows it."""
        lines = self.cert_pem.strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))

    # -- building ------------------------------------------------------------

    def response(
        self,
        *,
        acs: str,
        audience: str | None,
        name_id: str,
        in_response_to: str | None = None,
        scd_in_response_to: t.Any = SAME,
        attributes: dict[str, str | list[str]] | None = None,
        not_before: When | None = -300,
        not_on_or_after: When | None = 300,
        scd_not_on_or_after: When | None = 300,
        issue_instant: When = 0,
        issuer: str | None = None,
        assertion_issuer: str | None = None,
        destination: str | None = None,
        recipient: str | None = None,
        status: str = STATUS_SUCCESS,
        name_id_format: str = NAMEID_EMAIL,
        session_index: str | None = None,
        response_id: str | None = None,
        assertion_id: str | None = None,
        sign_assertion: bool = True,
        sign_response: bool = True,
        algorithm: str = "sha256",
        tweak: Callable[[etree._Element], None] | None = None,
    ) -> str:
        """Build a Response for ``name_id`` and sign it; return the XML text.

        ``acs`` is where it is posted (default for ``destination`` and
        ``recipient``; ``destination=""`` leaves the attribute out);
        ``audience`` is the SP entity ID (``None`` leaves out the
        AudienceRestriction). ``in_response_to`` goes on the Response and,
        unless ``scd_in_response_to`` says otherwise (``None`` leaves it out),
        on the SubjectConfirmationData: leave it ``None`` for an IdP-initiated
        (unsolicited) response. Times are absolute, or seconds relative to now;
        ``None`` omits the attribute. ``issuer`` defaults to this IdP's entity
        ID (``assertion_issuer`` to ``issuer``). ``algorithm`` is ``"sha256"``
        (Okta's default), ``"sha1"`` or ``"sha512"`` for both the signature
        and the digest. ``tweak`` edits the unsigned Response element in place
        just before signing (an IdP-signed but semantically bad response).
        """
        now = datetime.now(timezone.utc)
        issuer = self.entity_id if issuer is None else issuer
        assertion_issuer = issuer if assertion_issuer is None else assertion_issuer
        if scd_in_response_to is SAME:
            scd_in_response_to = in_response_to
        response_id = response_id or new_id()
        assertion_id = assertion_id or new_id()
        instant = saml_time(issue_instant, now)

        response = etree.Element(
            _q(NS_SAMLP, "Response"),
            nsmap={"saml2p": NS_SAMLP, "xs": NS_XS},
        )
        if destination is None:
            destination = acs
        if destination != "":
            response.set("Destination", destination)
        response.set("ID", response_id)
        if in_response_to is not None:
            response.set("InResponseTo", in_response_to)
        response.set("IssueInstant", instant)
        response.set("Version", "2.0")

        self._issuer(response, issuer)
        status_el = etree.SubElement(response, _q(NS_SAMLP, "Status"))
        etree.SubElement(status_el, _q(NS_SAMLP, "StatusCode"), Value=status)
        if status != STATUS_SUCCESS:
            # Okta sends no assertion with a failure status.
            return self._sign(
                response,
                sign_assertion=False,
                sign_response=sign_response,
                algorithm=algorithm,
                tweak=tweak,
            )

        assertion = etree.SubElement(
            response, _q(NS_SAML, "Assertion"), nsmap={"saml2": NS_SAML, "xs": NS_XS}
        )
        assertion.set("ID", assertion_id)
        assertion.set("IssueInstant", instant)
        assertion.set("Version", "2.0")
        self._issuer(assertion, assertion_issuer)

        subject = etree.SubElement(assertion, _q(NS_SAML, "Subject"))
        nameid = etree.SubElement(subject, _q(NS_SAML, "NameID"), Format=name_id_format)
        nameid.text = name_id
        confirmation = etree.SubElement(
            subject, _q(NS_SAML, "SubjectConfirmation"), Method=C.CM_BEARER
        )
        scd = etree.SubElement(confirmation, _q(NS_SAML, "SubjectConfirmationData"))
        if scd_in_response_to is not None:
            scd.set("InResponseTo", scd_in_response_to)
        if scd_not_on_or_after is not None:
            scd.set("NotOnOrAfter", saml_time(scd_not_on_or_after, now))
        scd.set("Recipient", acs if recipient is None else recipient)

        conditions = etree.SubElement(assertion, _q(NS_SAML, "Conditions"))
        if not_before is not None:
            conditions.set("NotBefore", saml_time(not_before, now))
        if not_on_or_after is not None:
            conditions.set("NotOnOrAfter", saml_time(not_on_or_after, now))
        if audience is not None:
            restriction = etree.SubElement(conditions, _q(NS_SAML, "AudienceRestriction"))
            etree.SubElement(restriction, _q(NS_SAML, "Audience")).text = audience

        authn = etree.SubElement(
            assertion,
            _q(NS_SAML, "AuthnStatement"),
            AuthnInstant=instant,
            SessionIndex=session_index or in_response_to or new_id(),
        )
        context = etree.SubElement(authn, _q(NS_SAML, "AuthnContext"))
        etree.SubElement(
            context, _q(NS_SAML, "AuthnContextClassRef")
        ).text = C.AC_PASSWORD_PROTECTED

        if attributes:
            statement = etree.SubElement(assertion, _q(NS_SAML, "AttributeStatement"))
            for name, values in attributes.items():
                attribute = etree.SubElement(
                    statement,
                    _q(NS_SAML, "Attribute"),
                    Name=name,
                    NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
                )
                for value in [values] if isinstance(values, str) else values:
                    value_el = etree.SubElement(
                        attribute, _q(NS_SAML, "AttributeValue"), nsmap={"xsi": NS_XSI}
                    )
                    value_el.set(_q(NS_XSI, "type"), "xs:string")
                    value_el.text = value

        return self._sign(
            response,
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            algorithm=algorithm,
            tweak=tweak,
        )

    def for_connection(self, integration_id: str, name_id: str, **kwargs: t.Any) -> str:
        """:meth:`response` addressed to a connection's ACS and SP entity ID."""
        kwargs.setdefault("acs", acs_url(integration_id))
        kwargs.setdefault("audience", sp_entity_id(integration_id))
        return self.response(name_id=name_id, **kwargs)

    def sign_element(self, xml: str | bytes, algorithm: str = "sha256") -> str:
        """Sign an element (Response or Assertion) with python3-saml's ``add_sign``.

        ``add_sign`` signs the parent of the first ``saml:Issuer`` it finds and
        puts the ``ds:Signature`` right after that Issuer (where the schema
        wants it).
        """
        sign_alg, digest_alg = ALGORITHMS[algorithm]
        signed = OneLogin_Saml2_Utils.add_sign(
            xml, self.key_pem, self.cert_pem, sign_algorithm=sign_alg, digest_algorithm=digest_alg
        )
        return signed.decode("utf-8") if isinstance(signed, bytes) else signed

    def sign_assertions(self, response: etree._Element, algorithm: str = "sha256") -> None:
        """Sign every Assertion of ``response`` in place (alone, then spliced back)."""
        for assertion in response.findall(_q(NS_SAML, "Assertion")):
            signed = parse(self.sign_element(etree.tostring(assertion), algorithm))
            signed.tail = assertion.tail
            response.replace(assertion, signed)

    # -- internals -----------------------------------------------------------

    def _sign(
        self,
        response: etree._Element,
        *,
        sign_assertion: bool,
        sign_response: bool,
        algorithm: str,
        tweak: Callable[[etree._Element], None] | None,
    ) -> str:
        if tweak is not None:
            tweak(response)
        if sign_assertion:
            self.sign_assertions(response, algorithm)
        if sign_response:
            return self.sign_element(etree.tostring(response), algorithm)
        return serialize(response)

    @staticmethod
    def _issuer(parent: etree._Element, value: str) -> None:
        # Okta declares ``saml2`` on the Response's Issuer itself.
        nsmap = None if parent.nsmap.get("saml2") == NS_SAML else {"saml2": NS_SAML}
        issuer = etree.SubElement(parent, _q(NS_SAML, "Issuer"), nsmap=nsmap, Format=ENTITY_FORMAT)
        issuer.text = value


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
    assert request.tag == _q(NS_SAMLP, "AuthnRequest"), request.tag
    return t.cast(str, request.get("ID"))


def me(client: t.Any) -> t.Any:
    """``GET /me`` in ``client``'s browser."""
    return client.get(f"{BASE_URL}/me")
