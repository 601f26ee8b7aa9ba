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


_INTEGRATION_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_integration_id() -> str:
    """Return a new Integration ID: 24 random lower-case letters and digits (124 bits).

    No ``_`` or ``-``: Okta refuses underscores in the single sign-on URL it is given.
    """
    return "".join(secrets.choice(_INTEGRATION_ALPHABET) for _ in range(24))
