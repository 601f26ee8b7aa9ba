"""Random public identifiers.

Every identifier that leaves the server (SCIM ``id``, Integration ID) is random
and carries no information: not a row number, not a timestamp.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: Ids a replay must give the resources it creates again: ``{"user": id}`` or ``{"group": id}``.
_forced: ContextVar[dict[str, str] | None] = ContextVar("okta_scim_forced_id", default=None)


def new_scim_id() -> str:
    """Return a new opaque SCIM resource id (a random UUID, RFC 7643 §3.1)."""
    return str(uuid.uuid4())


@contextmanager
def forced_scim_id(kind: str, value: str) -> Iterator[None]:
    """Inside the block, the next new ``kind`` (``"user"`` or ``"group"``) gets ``value``.

    For replaying a planned create with the id it was answered with (dry run).
    Only :func:`take_forced_scim_id` reads it, once.
    """
    token = _forced.set({kind: value})
    try:
        yield
    finally:
        _forced.reset(token)


def take_forced_scim_id(kind: str) -> str | None:
    """The id :func:`forced_scim_id` set for the next new ``kind``, once; else ``None``."""
    forced = _forced.get()
    return forced.pop(kind, None) if forced else None


_INTEGRATION_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_integration_id() -> str:
    """Return a new Integration ID: 24 random lower-case letters and digits (124 bits).

    No ``_`` or ``-``: Okta refuses underscores in the single sign-on URL it is given.
    """
    return "".join(secrets.choice(_INTEGRATION_ALPHABET) for _ in range(24))
