"""A simulated Okta identity provider: Okta-shaped, really signed SAML responses.

:class:`SimulatedIdP` builds ``<saml2p:Response>`` documents the way Okta sends
them (``saml2p:``/``saml2:`` prefixes, ``ID="id<digits>"``, a bearer
``SubjectConfirmation``, an ``AudienceRestriction``, an ``AuthnStatement`` and,
when attributes are given, an ``AttributeStatement`` with ``xs:string``
values) and signs them with python3-saml's own signer,
``OneLogin_Saml2_Utils.add_sign`` (xmlsec, exclusive C14N, RSA-SHA256 by
default). As Okta does by default, the Assertion is signed first (alone, then
spliced back), then the whole Response.

For a host's tests and for demos: the responses go to the application's real
ACS and pass or fail its real checks. Every knob of :meth:`SimulatedIdP.response`
(audience, issuer, times, status, algorithm, a ``tweak`` before signing) makes
a bad response that an IdP signed; tampering after signing is plain string or
lxml editing (:func:`parse`, :func:`serialize`).
"""

from __future__ import annotations

import secrets
import typing as t
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

#: The default sign-in URL prefix (``OKTA_SCIM_SSO_URL_PREFIX``).
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
    return t.cast(str, etree.tostring(element, encoding="unicode"))


def qname(ns: str, tag: str) -> str:
    """``{namespace}tag``, as lxml names elements."""
    return f"{{{ns}}}{tag}"


class SimulatedIdP:
    """An Okta-shaped SAML identity provider: it signs responses as an Okta app does.

    Built from a private key and its certificate (PEM), or with
    :meth:`generate` (a fresh RSA-2048 key and a self-signed certificate).
    :attr:`certificate` is what to configure on the organization's connection
    (or :meth:`metadata`, Okta's IdP metadata document). Its responses go
    through the application's ACS and its checks like Okta's: nothing in the
    extension trusts them otherwise. Not for production: anybody holding the
    key signs anybody in.
    """

    def __init__(
        self,
        key_pem: str,
        cert_pem: str,
        entity_id: str = OKTA_ENTITY_ID,
        sso_url: str = OKTA_SSO_URL,
    ) -> None:
        self.key_pem = key_pem
        self.cert_pem = cert_pem
        self.entity_id = entity_id
        self.sso_url = sso_url

    @classmethod
    def generate(
        cls,
        entity_id: str = OKTA_ENTITY_ID,
        sso_url: str = OKTA_SSO_URL,
        common_name: str = "Simulated Okta",
        days: int = 365,
    ) -> SimulatedIdP:
        """A new simulated IdP with its own RSA-2048 key, valid for ``days`` from yesterday."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.now(timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return cls(key_pem, cert_pem, entity_id, sso_url)

    def metadata(self) -> str:
        """The IdP's metadata, shaped like the document behind Okta's metadata link."""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'entityID="{escape(self.entity_id)}">'
            '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            f"<ds:X509Data><ds:X509Certificate>{self.certificate_body}</ds:X509Certificate>"
            "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            f"<md:NameIDFormat>{NAMEID_EMAIL}</md:NameIDFormat>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="{escape(self.sso_url)}"/>'
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{escape(self.sso_url)}"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

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
        encrypt_for: str | None = None,
        encryption: dict[str, t.Any] | None = None,
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
        ``encrypt_for`` (the SP's PEM certificate) encrypts the signed assertion
        before the Response is signed, as Okta's Assertion Encryption does;
        ``encryption`` passes options to :func:`.idp_options.encrypt_assertion`.
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
            qname(NS_SAMLP, "Response"),
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
        status_el = etree.SubElement(response, qname(NS_SAMLP, "Status"))
        etree.SubElement(status_el, qname(NS_SAMLP, "StatusCode"), Value=status)
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
            response, qname(NS_SAML, "Assertion"), nsmap={"saml2": NS_SAML, "xs": NS_XS}
        )
        assertion.set("ID", assertion_id)
        assertion.set("IssueInstant", instant)
        assertion.set("Version", "2.0")
        self._issuer(assertion, assertion_issuer)

        subject = etree.SubElement(assertion, qname(NS_SAML, "Subject"))
        nameid = etree.SubElement(subject, qname(NS_SAML, "NameID"), Format=name_id_format)
        nameid.text = name_id
        confirmation = etree.SubElement(
            subject, qname(NS_SAML, "SubjectConfirmation"), Method=C.CM_BEARER
        )
        scd = etree.SubElement(confirmation, qname(NS_SAML, "SubjectConfirmationData"))
        if scd_in_response_to is not None:
            scd.set("InResponseTo", scd_in_response_to)
        if scd_not_on_or_after is not None:
            scd.set("NotOnOrAfter", saml_time(scd_not_on_or_after, now))
        scd.set("Recipient", acs if recipient is None else recipient)

        conditions = etree.SubElement(assertion, qname(NS_SAML, "Conditions"))
        if not_before is not None:
            conditions.set("NotBefore", saml_time(not_before, now))
        if not_on_or_after is not None:
            conditions.set("NotOnOrAfter", saml_time(not_on_or_after, now))
        if audience is not None:
            restriction = etree.SubElement(conditions, qname(NS_SAML, "AudienceRestriction"))
            etree.SubElement(restriction, qname(NS_SAML, "Audience")).text = audience

        authn = etree.SubElement(
            assertion,
            qname(NS_SAML, "AuthnStatement"),
            AuthnInstant=instant,
            SessionIndex=session_index or in_response_to or new_id(),
        )
        context = etree.SubElement(authn, qname(NS_SAML, "AuthnContext"))
        etree.SubElement(
            context, qname(NS_SAML, "AuthnContextClassRef")
        ).text = C.AC_PASSWORD_PROTECTED

        if attributes:
            statement = etree.SubElement(assertion, qname(NS_SAML, "AttributeStatement"))
            for name, values in attributes.items():
                attribute = etree.SubElement(
                    statement,
                    qname(NS_SAML, "Attribute"),
                    Name=name,
                    NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
                )
                for value in [values] if isinstance(values, str) else values:
                    value_el = etree.SubElement(
                        attribute, qname(NS_SAML, "AttributeValue"), nsmap={"xsi": NS_XSI}
                    )
                    value_el.set(qname(NS_XSI, "type"), "xs:string")
                    value_el.text = value

        return self._sign(
            response,
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            algorithm=algorithm,
            tweak=tweak,
            encrypt_for=encrypt_for,
            encryption=encryption,
        )

    def for_connection(
        self,
        integration_id: str,
        name_id: str,
        *,
        base_url: str,
        sso_prefix: str = SSO_PREFIX,
        **kwargs: t.Any,
    ) -> str:
        """:meth:`response` addressed to a connection's ACS and SP entity ID.

        ``base_url`` is the application's ``OKTA_SCIM_BASE_URL``, ``sso_prefix``
        its ``OKTA_SCIM_SSO_URL_PREFIX``.
        """
        base = f"{base_url}{sso_prefix}/{integration_id}"
        kwargs.setdefault("acs", f"{base}/acs")
        kwargs.setdefault("audience", f"{base}/metadata")
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
        for assertion in response.findall(qname(NS_SAML, "Assertion")):
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
        encrypt_for: str | None = None,
        encryption: dict[str, t.Any] | None = None,
    ) -> str:
        if tweak is not None:
            tweak(response)
        if sign_assertion:
            self.sign_assertions(response, algorithm)
        if encrypt_for is not None:
            from .idp_options import encrypt_assertion

            for assertion in response.findall(qname(NS_SAML, "Assertion")):
                encrypt_assertion(assertion, encrypt_for, **(encryption or {}))
        if sign_response:
            return self.sign_element(etree.tostring(response), algorithm)
        return serialize(response)

    @staticmethod
    def _issuer(parent: etree._Element, value: str) -> None:
        # Okta declares ``saml2`` on the Response's Issuer itself.
        nsmap = None if parent.nsmap.get("saml2") == NS_SAML else {"saml2": NS_SAML}
        issuer = etree.SubElement(
            parent, qname(NS_SAML, "Issuer"), nsmap=nsmap, Format=ENTITY_FORMAT
        )
        issuer.text = value
