"""SP-initiated login and the Assertion Consumer Service, over python3-saml.

Nothing here knows about HTTP frameworks or databases: the caller passes the
public URLs, the posted form, and (for the InResponseTo policy) the request IDs
outstanding for this browser; it stores request IDs and assertion IDs itself.
"""

from __future__ import annotations

import base64
import copy
import typing as t
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from ..core.emails import normalize_email
from ..core.errors import InvalidValue
from .encryption import check_encrypted_assertion
from .encryption import decrypt_assertion
from .encryption import encrypted_assertions
from .encryption import keys_to_try
from .encryption import verify_response_signature
from .errors import SamlError
from .guard import check_signatures
from .guard import decode_response
from .settings import ServiceProvider
from .settings import certificate_body
from .settings import sp_metadata_settings

#: Keep assertion IDs this long past their NotOnOrAfter (python3-saml allows 300 s of drift).
REPLAY_MARGIN = timedelta(seconds=300)
#: The longest validity an assertion may claim (Okta's is 5 minutes): a later NotOnOrAfter
#: is refused, so that the replay cache remembers nothing for long, and no date overflows.
MAX_ASSERTION_LIFETIME = timedelta(hours=24)
#: The largest SAMLResponse accepted (base64), before any parsing.
MAX_RESPONSE_BYTES = 512 * 1024

_EMAIL_ATTRIBUTES = (
    "email",
    "Email",
    "mail",
    "emailAddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)


@dataclass(frozen=True)
class SamlIdentity:
    """What a valid assertion says."""

    name_id: str
    email: str
    display_name: str | None
    attributes: dict[str, list[str]]
    assertion_id: str
    in_response_to: frozenset[str]
    remember_until: datetime
    session_index: str | None = None
    #: The NameID's Format, sent back in a LogoutRequest.
    name_id_format: str | None = None


@dataclass(frozen=True)
class ReadResponse:
    """A posted SAMLResponse decoded and past the guard, not yet validated.

    ``email_hint`` is the address the assertion's NameID *claims*, unverified:
    only a key to look something up early, to be used only if the validated
    identity's email is exactly the same (:func:`process_response` says).
    """

    decoded: bytes
    root: t.Any
    email_hint: str | None


def read_response(form: Mapping[str, str]) -> ReadResponse:
    """Decode a posted SAMLResponse and run the guard (:func:`.guard.check_signatures`).

    Raises :class:`SamlError` (400) for a missing, oversized or malformed
    response. Checks no signature: :func:`process_response` does.
    """
    raw = form.get("SAMLResponse")
    if not raw:
        raise SamlError("no SAMLResponse in the POST", status=400)
    if len(raw) > MAX_RESPONSE_BYTES:
        raise SamlError("SAMLResponse too large", status=400)
    decoded = decode_response(raw)
    root = check_signatures(decoded)
    return ReadResponse(decoded, root, _email_hint(root))


def _email_hint(root: t.Any) -> str | None:
    found = root.xpath(
        "/samlp:Response/saml:Assertion/saml:Subject/saml:NameID/text()", namespaces=_NS
    )
    if len(found) != 1:
        return None
    try:
        return normalize_email(str(found[0]).strip())
    except InvalidValue:
        return None


def request_data(
    url: str, post: Mapping[str, str] | None = None, get: Mapping[str, str] | None = None
) -> dict[str, t.Any]:
    """The request as python3-saml sees it, built from the *public* ``url`` we advertise.

    Never from the ``Host`` header: Destination and Recipient are compared
    with this URL, so a proxy or a forged header cannot make them match.
    """
    parts = urlsplit(url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": dict(get or {}),
        "post_data": dict(post or {}),
    }


def login_url(settings: dict[str, t.Any], sign_in_url: str) -> tuple[str, str]:
    """Return ``(IdP URL with an AuthnRequest, the request's ID)``.

    No NameIDPolicy is sent (Okta's Name ID format may be anything) and no
    RelayState: where to go afterwards is kept server-side with the ID. With
    ``authnRequestsSigned`` (and a key) the query carries ``SigAlg`` and
    ``Signature`` (RSA-SHA256, HTTP-Redirect binding), computed over exactly
    the parameters sent.
    """
    saml = _settings(settings)
    auth = OneLogin_Saml2_Auth(request_data(sign_in_url), old_settings=saml)
    request = OneLogin_Saml2_Authn_Request(saml, set_nameid_policy=False)
    parameters = {"SAMLRequest": request.get_request()}
    if saml.get_security_data().get("authnRequestsSigned"):
        auth.add_request_signature(parameters, C.RSA_SHA256)
    return redirect_url(auth.get_sso_url(), parameters), request.get_id()


def redirect_url(target: str, parameters: Mapping[str, str]) -> str:
    """``target`` with ``parameters`` added to its query (HTTP-Redirect binding)."""
    parts = urlsplit(target)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(parameters.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def process_response(
    settings: dict[str, t.Any],
    acs_url: str,
    form: Mapping[str, str],
    *,
    read: ReadResponse | None = None,
    decryption_keys: Callable[[], Sequence[tuple[str, str]]] | None = None,
    require_encrypted: bool = False,
) -> SamlIdentity:
    """Validate a posted SAMLResponse; return the identity or raise :class:`SamlError`.

    First the signatures' shape and algorithms (:mod:`.guard`, before xmlsec
    runs any transform); then everything python3-saml checks in strict mode,
    catching every exception malformed input can raise (400); then the
    extension's own rules on values read from their exact signed places, and
    the InResponseTo values of the Response *and* of each bearer
    SubjectConfirmationData, for :func:`check_in_response_to`. It does not
    check replay (the caller stores :attr:`SamlIdentity.assertion_id` until
    :attr:`SamlIdentity.remember_until`). ``read`` is what :func:`read_response`
    made of this ``form``, if the caller read it already.
    """
    # Structure and algorithms before xmlsec runs any transform; python3-saml then
    # reads exactly the bytes checked here.
    read = read if read is not None else read_response(form)
    decoded, root = read.decoded, read.root
    settings, decrypted = _decryption_settings(
        settings, decoded, root, decryption_keys, require_encrypted
    )
    form = {**form, "SAMLResponse": base64.b64encode(decoded).decode("ascii")}
    auth = OneLogin_Saml2_Auth(request_data(acs_url, post=form), old_settings=_settings(settings))
    if decrypted is not None:
        auth.response_class = _already_decrypted(decrypted)
    try:
        auth.process_response(request_id=None)
    except Exception as e:  # DTDForbidden, XMLSyntaxError, binascii.Error, ValidationError...
        raise SamlError(f"malformed SAMLResponse: {type(e).__name__}: {e}", status=400) from None
    errors = auth.get_errors()
    if errors or not auth.is_authenticated():
        reason = auth.get_last_error_reason() or "not authenticated"
        raise SamlError(f"invalid SAMLResponse ({', '.join(errors)}): {reason}")
    try:
        attributes = auth.get_attributes()
        name_id = (auth.get_nameid() or "").strip()
        xml = auth.get_last_response_xml()
    except Exception as e:
        raise SamlError(f"unreadable assertion: {type(e).__name__}: {e}", status=400) from None
    document = OneLogin_Saml2_XML.to_etree(xml)
    destination = document.get("Destination")
    if destination != acs_url:
        raise SamlError(f"Destination {destination!r} is not this ACS")
    signed = _SignedValues.read(document)
    _check_addresses(signed, acs_url, settings["sp"]["entityId"])
    in_response_to = set(signed.confirmation("InResponseTo"))
    top = document.get("InResponseTo")  # the signed Response's own attribute
    if top:
        in_response_to.add(top)
    now = datetime.now(timezone.utc)
    if not signed.confirmation("NotOnOrAfter"):
        # SAML Profiles §4.1.4.2 requires it; without it an assertion never expires and
        # no replay cache could remember it long enough.
        raise SamlError("the bearer SubjectConfirmationData has no NotOnOrAfter")
    # Remember the assertion as long as any of its validity windows lasts.
    limits = [
        _instant(value) for value in signed.confirmation("NotOnOrAfter") + signed.conditions_end
    ]
    expires = max(limits)
    if expires > now + MAX_ASSERTION_LIFETIME:
        raise SamlError(
            f"the assertion is valid until {expires.isoformat()}, more than "
            f"{MAX_ASSERTION_LIFETIME} ahead: no identity provider issues such assertions"
        )
    assertion_id = auth.get_last_assertion_id()
    if not assertion_id:
        raise SamlError("the assertion has no ID")
    return SamlIdentity(
        name_id=name_id,
        email=_email(name_id, attributes),
        display_name=_display_name(attributes),
        attributes=attributes,
        assertion_id=assertion_id,
        in_response_to=frozenset(in_response_to),
        remember_until=max(expires, now) + REPLAY_MARGIN,
        session_index=auth.get_session_index(),
        name_id_format=auth.get_nameid_format(),
    )


def check_in_response_to(
    identity: SamlIdentity, outstanding: set[str], *, allow_idp_initiated: bool
) -> str | None:
    """Apply the InResponseTo policy; return the answered request ID (``None``: IdP-initiated).

    - A response answering a request must answer exactly one request that this
      browser started (``outstanding``), in the Response and in every
      SubjectConfirmationData alike.
    - A response answering no request is IdP-initiated: allowed only if the
      connection allows it.
    """
    if not identity.in_response_to:
        if not allow_idp_initiated:
            raise SamlError("IdP-initiated sign-in is turned off for this connection")
        return None
    if len(identity.in_response_to) > 1:
        raise SamlError("the Response and the assertion answer different requests")
    (request_id,) = identity.in_response_to
    if request_id not in outstanding:
        raise SamlError(
            "InResponseTo does not match a sign-in started in this browser"
            if outstanding
            else "InResponseTo is set but this browser started no sign-in"
        )
    return request_id


def sp_metadata(sp: ServiceProvider) -> str:
    """The SP metadata XML: entity ID, ACS, SLO URL, signed assertions wanted, certificates.

    The active certificate and, during a rollover, the next one are published
    for signing and for encryption; ``AuthnRequestsSigned`` says whether
    requests are signed. Needs no private key. Not signed itself.
    """
    settings = OneLogin_Saml2_Settings(sp_metadata_settings(sp), sp_validation_only=True)
    metadata = OneLogin_Saml2_Metadata.builder(
        settings.get_sp_data(),
        authnsign=bool(sp.certificate and sp.sign_requests),
        wsign=True,
    )
    for certificate in (sp.next_certificate, sp.certificate):
        if certificate:
            metadata = OneLogin_Saml2_Metadata.add_x509_key_descriptors(
                metadata, certificate_body(certificate), True
            )
    return metadata.decode("utf-8") if isinstance(metadata, bytes) else str(metadata)


def _settings(settings: dict[str, t.Any]) -> OneLogin_Saml2_Settings:
    return OneLogin_Saml2_Settings(settings)


def _already_decrypted(decrypted: t.Any) -> type[OneLogin_Saml2_Response]:
    """python3-saml's Response, handed the document this module decrypted (once is enough).

    python3-saml would decrypt again, loading the private key afresh (about
    ten milliseconds of OpenSSL key set-up). It validates the decrypted
    document exactly as it would its own: the Response's signature on the
    original, the assertion's on this one.
    """

    class Response(OneLogin_Saml2_Response):  # type: ignore[misc]
        def _decrypt_assertion(self, xml: t.Any) -> t.Any:
            return copy.deepcopy(decrypted)

    return Response


def _decryption_settings(
    settings: dict[str, t.Any],
    decoded: bytes,
    root: t.Any,
    decryption_keys: Callable[[], Sequence[tuple[str, str]]] | None,
    require_encrypted: bool,
) -> tuple[dict[str, t.Any], t.Any]:
    """The settings to validate this response with, and the response decrypted (or ``None``).

    For an encrypted response, the settings hold the key that decrypted it.
    Refuses a plain assertion when encryption is wanted, an unsafe or
    foreign encrypted one, and any decryption before the Response's
    signature is verified. The decrypted assertion's signatures pass the
    same guard as a plain one's before python3-saml verifies them.
    """
    encrypted = encrypted_assertions(root)
    if not encrypted:
        if require_encrypted or settings["security"].get("wantAssertionsEncrypted"):
            raise SamlError(
                "the assertion is not encrypted, and this connection accepts only "
                "encrypted assertions (Okta: Assertion Encryption = Encrypted)"
            )
        return settings, None
    if len(encrypted) > 1:
        raise SamlError("more than one EncryptedAssertion", status=400)
    named = check_encrypted_assertion(encrypted[0])
    idp = settings["idp"]
    trusted = (idp.get("x509certMulti") or {}).get("signing") or [idp.get("x509cert")]
    verify_response_signature(decoded, [c for c in trusted if c])
    for certificate, key in keys_to_try(named, decryption_keys() if decryption_keys else []):
        decrypted = decrypt_assertion(root, key)
        if decrypted is None:
            continue
        check_signatures(etree.tostring(decrypted))
        sp = {**settings["sp"], "x509cert": certificate_body(certificate), "privateKey": key}
        security = {**settings["security"], "wantAssertionsEncrypted": True}
        return {**settings, "sp": sp, "security": security}, decrypted
    raise SamlError(
        "the encrypted assertion cannot be decrypted with this connection's SP keys "
        "(encrypted for another key?)"
    )


#: The namespaces of the exact paths below.
_NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"


@dataclass(frozen=True)
class _SignedValues:
    """What the policy reads, each from its one exact place in the signed assertion.

    Never ``//``: a Response's ``ds:Signature`` (its ``KeyInfo``, an ``Object``)
    is covered by no digest, and anything placed there must count for nothing.
    python3-saml has checked, before this is read, that the Response has
    exactly one Assertion, as its child, and that both are signed.
    """

    confirmations: tuple[t.Any, ...]
    conditions_end: list[str]
    audiences: list[str]

    @classmethod
    def read(cls, document: t.Any) -> _SignedValues:
        assertion = "/samlp:Response/saml:Assertion"
        confirmations = document.xpath(
            f"{assertion}/saml:Subject/saml:SubjectConfirmation[@Method='{_BEARER}']"
            "/saml:SubjectConfirmationData",
            namespaces=_NS,
        )
        conditions = document.xpath(f"{assertion}/saml:Conditions", namespaces=_NS)
        audiences = document.xpath(
            f"{assertion}/saml:Conditions/saml:AudienceRestriction/saml:Audience",
            namespaces=_NS,
        )
        return cls(
            confirmations=tuple(confirmations),
            conditions_end=[c.get("NotOnOrAfter") for c in conditions if c.get("NotOnOrAfter")],
            audiences=[(a.text or "").strip() for a in audiences],
        )

    def confirmation(self, attribute: str) -> list[str]:
        """``attribute`` of each bearer SubjectConfirmationData that has it."""
        return [c.get(attribute) for c in self.confirmations if c.get(attribute)]


def _instant(value: str) -> datetime:
    """An xs:dateTime as an aware UTC datetime; :class:`SamlError` if it is not one."""
    try:
        return datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(value), timezone.utc)
    except (ValueError, OverflowError, OSError) as e:
        raise SamlError(f"unreadable time {value[:64]!r}: {type(e).__name__}", status=400) from None


def _check_addresses(signed: _SignedValues, acs_url: str, sp_entity_id: str) -> None:
    """Exact addressing, stricter than python3-saml.

    python3-saml accepts a missing Destination, a Destination that merely
    starts with the ACS URL, a Recipient that contains it, and no
    AudienceRestriction. Okta always sends all three, exactly. The
    Destination is checked by the caller on the signed Response's root.
    """
    recipients = [c.get("Recipient") for c in signed.confirmations]
    if not recipients or any(r != acs_url for r in recipients):
        raise SamlError(f"Recipient {recipients!r} is not this ACS")
    if sp_entity_id not in signed.audiences:
        raise SamlError(f"Audience {signed.audiences!r} does not name this service provider")


def _email(name_id: str, attributes: Mapping[str, list[str]]) -> str:
    candidates = [name_id] + [
        value for key in _EMAIL_ATTRIBUTES for value in attributes.get(key, [])
    ]
    for candidate in candidates:
        try:
            return normalize_email(candidate)
        except InvalidValue:
            continue
    raise SamlError("the assertion carries no email address (NameID or an email attribute)")


def _display_name(attributes: Mapping[str, list[str]]) -> str | None:
    def first(*keys: str) -> str:
        return next((v[0] for k in keys if (v := attributes.get(k))), "")

    name = " ".join(p for p in (first("firstName", "givenName"), first("lastName", "surname")) if p)
    return name or first("displayName") or None


__all__ = [
    "ReadResponse",
    "SamlIdentity",
    "check_in_response_to",
    "login_url",
    "process_response",
    "read_response",
    "redirect_url",
    "request_data",
    "sp_metadata",
]
