"""Random public identifiers.

Every identifier that leaves the server (SCIM ``id``, Integration ID) is random
and carries no information: not a row number, not a timestamp.
"""

from __future__ import annotations

import secrets
import uuid


def new_scim_id() -> str:
    """Return a new opaque SCIM resource id (a random UUID, RFC 7643 §3.1)."""
    return str(uuid.uuid4())


def new_integration_id() -> str:
    """Return a new Integration ID: 128 random bits, URL-safe, no padding."""
    return secrets.token_urlsafe(16)
