"""SAML 2.0 sign-in with Okta over python3-saml, free of Flask and SQLAlchemy.

python3-saml checks signatures, times, audience, destination and issuer in
strict mode; this package sets it up safely (both signatures required, SHA-1
refused) and adds what it leaves to the application: the InResponseTo policy,
the data for a replay cache, safe metadata fetching, which IdP certificates to
trust (strong keys, valid now: :mod:`.certificates`), and exceptions turned into
:class:`SamlError` with a reason for the log (never for the page).

The names it exports (``__all__``) are public API: a host building its own screens for configuring a
connection (fetching and checking IdP metadata, showing and checking
certificates) imports them from here, not from the modules they live in.
"""

from .addresses import check_address
from .certificates import CertificateInfo
from .certificates import CertificateRefused
from .certificates import Trust
from .certificates import check_certificate
from .certificates import fingerprint
from .certificates import inspect_certificate
from .certificates import trusted_certificates
from .errors import MetadataError
from .metadata import MAX_METADATA_BYTES
from .metadata import TIMEOUT_SECONDS
from .metadata import IdpMetadata
from .metadata import check_url
from .metadata import fetch_metadata
from .metadata import parse_metadata

__all__ = [
    "MAX_METADATA_BYTES",
    "TIMEOUT_SECONDS",
    "CertificateInfo",
    "CertificateRefused",
    "IdpMetadata",
    "MetadataError",
    "Trust",
    "check_address",
    "check_certificate",
    "check_url",
    "fetch_metadata",
    "fingerprint",
    "inspect_certificate",
    "parse_metadata",
    "trusted_certificates",
]
