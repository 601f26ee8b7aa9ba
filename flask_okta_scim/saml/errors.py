"""SAML failures: a public status and a private reason."""

from __future__ import annotations


class SamlError(Exception):
    """A refused sign-in.

    ``status`` is 400 for malformed input and 403 for anything invalid or
    refused; ``reason`` is for the log and the audit record, not for the
    person at the browser.
    """

    def __init__(self, reason: str, *, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class MetadataError(Exception):
    """IdP metadata could not be fetched or understood (the message says why)."""


class NoTrustedCertificate(SamlError):
    """A connection has no IdP signing certificate that may be trusted now.

    Every configured certificate has expired (without the operator's
    override), is not valid yet, or has a weak key: no signature can be
    verified, so no sign-in can succeed until the IdP's current certificate is
    configured. ``reason`` names each certificate and why it is not trusted.
    """
