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
