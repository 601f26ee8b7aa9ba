"""Single logout messages: building ours, and reading the IdP's as strictly as a sign-in.

python3-saml reads logout messages only from the HTTP-Redirect binding (Okta
POSTs its LogoutResponse), accepts a Destination that merely starts with our
URL, a missing Issuer, and any IssueInstant. :func:`read_logout_message`
reads both bindings and requires, before believing a word of it:

- a bounded size, inflated (Redirect) with a bound, parsed without DTD,
  entities or network, signatures in the shapes the sign-in guard allows;
- a signature by one of the IdP's trusted certificates: over the exact query
  string received (Redirect, ``SigAlg`` RSA-SHA2), or enveloped (POST);
- the Issuer equal to the IdP's entity ID, the Destination equal to our SLO
  URL, an IssueInstant within :data:`MESSAGE_WINDOW` (and a NotOnOrAfter not
  passed);
- a LogoutRequest naming one person (a plain NameID), a LogoutResponse
  answering a request (InResponseTo) with a status.

It does not check replay (the caller stores :attr:`LogoutMessage.id` until
:attr:`LogoutMessage.remember_until`) nor that InResponseTo is one of ours.
Nothing here knows about Flask or databases.
"""

from __future__ import annotations

import base64
import binascii
import re
import typing as t
import zlib
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from urllib.parse import unquote_plus

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from .errors import SamlError
from .guard import SIGNATURE_METHODS
from .guard import check_signatures
from .service import redirect_url
from .service import request_data
from .settings import certificate_body
from .verify import verify_enveloped

REQUEST, RESPONSE = "LogoutRequest", "LogoutResponse"
#: The largest SAMLRequest/SAMLResponse parameter read (base64), and its inflated size.
MAX_MESSAGE_BYTES = 64 * 1024
MAX_INFLATED_BYTES = 256 * 1024
#: How old (or, for clock skew, how far ahead) an IssueInstant may be.
MESSAGE_WINDOW = timedelta(minutes=5)
#: Keep a message ID in the replay cache this long past the window.
REPLAY_MARGIN = timedelta(minutes=5)
SUCCESS = C.STATUS_SUCCESS

_NS = {"samlp": C.NS_SAMLP, "saml": C.NS_SAML}
_BASE64_BLANKS = re.compile(rb"[ \t\r\n]+")


@dataclass(frozen=True)
class LogoutMessage:
    """What a valid LogoutRequest or LogoutResponse says."""

    kind: str
    id: str
    issued_at: datetime
    remember_until: datetime
    relay_state: str | None
    #: LogoutRequest: the person and the IdP sessions to end (none listed: all of them).
    name_id: str | None = None
    session_indexes: tuple[str, ...] = ()
    #: LogoutResponse: the request it answers, and its top-level status code.
    in_response_to: str | None = None
    status: str | None = None

    @property
    def succeeded(self) -> bool:
        """Whether a LogoutResponse reports success."""
        return bool(self.status == SUCCESS)


def logout_request_url(
    settings: dict[str, t.Any],
    *,
    name_id: str,
    name_id_format: str | None,
    session_index: str | None,
    name_qualifier: str | None = None,
    sp_name_qualifier: str | None = None,
) -> tuple[str, str]:
    """Return ``(IdP SLO URL with our LogoutRequest, the request's ID)``, signed when keyed.

    Okta requires the LogoutRequest signed (with the SP certificate uploaded
    to it): the settings' ``logoutRequestSigned`` says so whenever the
    connection has a key. Does not end any local session.
    """
    saml = OneLogin_Saml2_Settings(settings)
    auth = OneLogin_Saml2_Auth(request_data(settings["sp"]["entityId"]), old_settings=saml)
    request = OneLogin_Saml2_Logout_Request(
        saml,
        name_id=name_id,
        session_index=session_index,
        nq=name_qualifier,
        name_id_format=name_id_format,
        spnq=sp_name_qualifier,
    )
    parameters = {"SAMLRequest": request.get_request()}
    if saml.get_security_data().get("logoutRequestSigned"):
        auth.add_request_signature(parameters, C.RSA_SHA256)
    return redirect_url(auth.get_slo_url(), parameters), str(request.id)


def logout_response_url(
    settings: dict[str, t.Any],
    in_response_to: str,
    *,
    status: str = SUCCESS,
    relay_state: str | None = None,
) -> str:
    """The IdP's SLO (response) URL with our LogoutResponse, signed when keyed."""
    saml = OneLogin_Saml2_Settings(settings)
    auth = OneLogin_Saml2_Auth(request_data(settings["sp"]["entityId"]), old_settings=saml)
    response = OneLogin_Saml2_Logout_Response(saml)
    response.build(in_response_to, status)
    parameters = {"SAMLResponse": response.get_response()}
    if relay_state:
        parameters["RelayState"] = relay_state
    if saml.get_security_data().get("logoutResponseSigned"):
        auth.add_response_signature(parameters, C.RSA_SHA256)
    return redirect_url(auth.get_slo_response_url(), parameters)


def read_logout_message(
    *,
    method: str,
    query_string: bytes,
    form: Mapping[str, str],
    slo_url: str,
    idp_entity_id: str,
    certificates: Sequence[str],
    now: datetime | None = None,
) -> LogoutMessage:
    """Validate the LogoutRequest or LogoutResponse of a request to our SLO URL.

    ``method`` is ``"GET"`` (HTTP-Redirect: read from ``query_string``, as
    received) or ``"POST"`` (HTTP-POST: read from ``form``). Raises
    :class:`SamlError` (400 for malformed input, 403 for a message that is
    not the IdP's). See the module's docstring for every rule.
    """
    now = now or datetime.now(timezone.utc)
    if method == "GET":
        query = _query_parameters(query_string)
        param = _which(query)
        xml = _inflate(_base64(query[param]))
        relay_state = query.get("RelayState")
    else:
        param = _which(form)
        xml = _base64(form[param])
        relay_state = form.get("RelayState")
    kind = REQUEST if param == "SAMLRequest" else RESPONSE
    root = check_signatures(xml)
    if root.tag != f"{{{C.NS_SAMLP}}}{kind}":
        raise SamlError(f"{param} holds a {root.tag}, not a {kind}", status=400)
    if isinstance(
        OneLogin_Saml2_XML.validate_xml(root, "saml-schema-protocol-2.0.xsd", False), str
    ):
        raise SamlError(f"the {kind} does not follow the SAML schema", status=400)
    if method == "GET":
        _verify_query_signature(query_string, param, certificates)
    elif not verify_enveloped(xml, certificates, f"/samlp:{kind}/ds:Signature"):
        raise SamlError(f"the {kind} is not signed by the IdP")
    issuers = root.xpath("saml:Issuer", namespaces=_NS)
    issuer = (issuers[0].text or "").strip() if len(issuers) == 1 else None
    if issuer != idp_entity_id:
        raise SamlError(f"the {kind}'s Issuer {issuer!r} is not the IdP {idp_entity_id!r}")
    if root.get("Destination") != slo_url:
        raise SamlError(f"the {kind}'s Destination {root.get('Destination')!r} is not this URL")
    issued_at = _instant(root.get("IssueInstant"))
    if issued_at < now - MESSAGE_WINDOW or issued_at > now + MESSAGE_WINDOW:
        raise SamlError(f"the {kind} was issued at {issued_at.isoformat()}: too old or ahead")
    remember = issued_at + MESSAGE_WINDOW
    ends = root.get("NotOnOrAfter")
    if ends is not None:
        until = _instant(ends)
        if until <= now:
            raise SamlError(f"the {kind} expired at {until.isoformat()}")
        remember = min(max(remember, until), now + timedelta(days=1))
    message_id = root.get("ID") or ""
    if not message_id or len(message_id) > 200:
        raise SamlError(f"the {kind} has no usable ID", status=400)
    if kind == REQUEST:
        if root.xpath("saml:EncryptedID", namespaces=_NS):
            raise SamlError("the LogoutRequest names the person with an EncryptedID", status=400)
        names = root.xpath("saml:NameID", namespaces=_NS)
        name_id = (names[0].text or "").strip() if len(names) == 1 else ""
        if not name_id:
            raise SamlError("the LogoutRequest names nobody (no NameID)", status=400)
        indexes = root.xpath("samlp:SessionIndex", namespaces=_NS)
        in_response_to, status = None, None
    else:
        name_id, indexes = None, []
        in_response_to = root.get("InResponseTo")
        if not in_response_to:
            raise SamlError("the LogoutResponse answers no request (no InResponseTo)")
        codes = root.xpath("samlp:Status/samlp:StatusCode/@Value", namespaces=_NS)
        if len(codes) != 1:
            raise SamlError("the LogoutResponse has no status", status=400)
        status = str(codes[0])
    return LogoutMessage(
        kind=kind,
        id=message_id,
        issued_at=issued_at,
        remember_until=remember + REPLAY_MARGIN,
        relay_state=relay_state,
        name_id=name_id,
        session_indexes=tuple((e.text or "").strip() for e in indexes),
        in_response_to=in_response_to,
        status=status,
    )


def _query_parameters(query_string: bytes) -> dict[str, str]:
    """The query's parameters, each at most once (a repeated one is refused)."""
    if len(query_string) > 2 * MAX_MESSAGE_BYTES:
        raise SamlError("the logout message is too large", status=400)
    found: dict[str, str] = {}
    for part in query_string.decode("ascii", "replace").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = unquote_plus(name)
        if name in found:
            raise SamlError(f"the query repeats {name}", status=400)
        found[name] = unquote_plus(value)
    return found


def _which(parameters: Mapping[str, str]) -> str:
    present = [p for p in ("SAMLRequest", "SAMLResponse") if parameters.get(p)]
    if len(present) != 1:
        raise SamlError("expected one SAMLRequest or SAMLResponse", status=400)
    if len(parameters[present[0]]) > MAX_MESSAGE_BYTES:
        raise SamlError("the logout message is too large", status=400)
    return present[0]


def _base64(value: str) -> bytes:
    try:
        return base64.b64decode(_BASE64_BLANKS.sub(b"", value.encode("ascii")), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise SamlError("the logout message is not base64", status=400) from None


def _inflate(data: bytes) -> bytes:
    """Raw DEFLATE (HTTP-Redirect binding), stopping at :data:`MAX_INFLATED_BYTES`."""
    inflater = zlib.decompressobj(-15)
    try:
        xml = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error:
        raise SamlError("the logout message is not DEFLATE-compressed", status=400) from None
    if inflater.unconsumed_tail:
        raise SamlError("the logout message inflates beyond the limit", status=400)
    return xml


def _verify_query_signature(query_string: bytes, param: str, certificates: Sequence[str]) -> None:
    """HTTP-Redirect: ``Signature`` over ``param=...&RelayState=...&SigAlg=...`` as received."""
    parameters = _query_parameters(query_string)
    algorithm = parameters.get("SigAlg")
    signature = parameters.get("Signature")
    if not algorithm or not signature:
        raise SamlError(f"the {param} is not signed (no SigAlg and Signature)")
    if algorithm not in SIGNATURE_METHODS:
        raise SamlError(f"signature algorithm {algorithm!r} is not allowed")
    parts = query_string.decode("ascii", "replace").split("&")
    signed = "&".join(
        part
        for prefix in (f"{param}=", "RelayState=", "SigAlg=")
        for part in parts
        if part.startswith(prefix)
    )
    try:
        value = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise SamlError("the Signature is not base64", status=400) from None
    for certificate in certificates:
        try:
            if OneLogin_Saml2_Utils.validate_binary_sign(
                signed.encode("ascii"),
                value,
                OneLogin_Saml2_Utils.format_cert(certificate_body(certificate)),
                algorithm,
            ):
                return
        except Exception:
            continue
    raise SamlError(f"the {param}'s signature does not verify with the IdP's certificates")


def _instant(value: str | None) -> datetime:
    if not value:
        raise SamlError("no IssueInstant", status=400)
    try:
        return datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(value), timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise SamlError(f"unreadable time {value[:64]!r}", status=400) from None


__all__ = [
    "REQUEST",
    "RESPONSE",
    "LogoutMessage",
    "logout_request_url",
    "logout_response_url",
    "read_logout_message",
]
