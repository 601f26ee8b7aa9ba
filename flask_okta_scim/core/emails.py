"""Email addresses and domains: validation and the canonical forms we compare.

Accounts are identified by email, case-insensitively (docs/directory.rst). These helpers
check the *shape* of an address or domain; they do not resolve DNS and do not
prove that anybody owns a domain.
"""

from __future__ import annotations

import re

from .errors import InvalidValue

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL = re.compile(r"^[^\s@\"(),:;<>\[\]\\]{1,64}$")


def normalize_domain(value: str) -> str:
    """Return ``value`` as a lower-case ASCII domain name, or raise :class:`InvalidValue`.

    Internationalised names are converted with IDNA. Wildcards, trailing dots,
    single-label names (``localhost``) and IP addresses are refused: a
    pre-approved domain must be a real, specific DNS name.
    """
    domain = value.strip().lower()
    if domain.endswith("."):
        domain = domain[:-1]
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidValue(f"{value!r} is not a valid domain name.") from None
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidValue(f"{value!r} is not a valid domain name.")
    return domain


def normalize_email(value: str) -> str:
    """Return ``value`` stripped of surrounding blanks, with its domain normalised.

    The local part keeps its case (addresses are stored as sent and compared
    case-insensitively elsewhere). Raises :class:`InvalidValue` when ``value``
    is not a plain ``local@domain`` address; display names (``"Ann <a@b>"``)
    are refused, not parsed.
    """
    if not isinstance(value, str):
        raise InvalidValue("An email address must be a string.")
    address = value.strip()
    local, sep, domain = address.rpartition("@")
    if not sep or not _LOCAL.match(local):
        raise InvalidValue(f"{value!r} is not an email address.")
    try:
        return f"{local}@{normalize_domain(domain)}"
    except InvalidValue:
        raise InvalidValue(f"{value!r} is not an email address.") from None


def email_domain(email: str) -> str:
    """Return the normalised domain of an address already checked by :func:`normalize_email`."""
    return email.rpartition("@")[2].lower()
