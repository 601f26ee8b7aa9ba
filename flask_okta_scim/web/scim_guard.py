"""Who may call the SCIM API, and how often: bearer tokens and the per-organization rate limit."""

from __future__ import annotations

import math
import time
import typing as t

from limits import parse_many
from limits.strategies import FixedWindowRateLimiter

from ..scim import errors
from .rate_storage import rate_storage


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization`` header: ``Bearer <t>`` or a bare ``<t>`` (Okta sends both).

    Returns ``None`` for a missing header or another scheme (``Basic ...``).
    """
    if not header:
        return None
    value = header.strip()
    scheme, _, rest = value.partition(" ")
    if rest:
        if scheme.lower() != "bearer":
            return None
        value = rest.strip()
    return value if value and " " not in value else None


class RateLimiter:
    """A fixed-window request budget per organization, from the ``limits`` library.

    ``memory://`` counts per process; a shared store (``redis://...``) counts
    across processes and hosts.
    """

    def __init__(self, rate: str, storage_url: str) -> None:
        self.items = parse_many(rate)
        self.limiter = FixedWindowRateLimiter(rate_storage(storage_url))

    def hit(self, organization_id: t.Any) -> None:
        """Count one request; raise :class:`~flask_okta_scim.scim.errors.TooManyRequests` when over.

        Every rate of ``"20/second;600/minute"`` applies. The error carries an
        integer ``Retry-After`` (Okta only understands seconds).
        """
        key = str(organization_id)
        over = [item for item in self.items if not self.limiter.hit(item, "okta-scim", key)]
        if not over:
            return
        reset = max(
            self.limiter.get_window_stats(item, "okta-scim", key).reset_time for item in over
        )
        retry_after = max(1, math.ceil(reset - time.time()))
        raise errors.TooManyRequests(
            f"Too many SCIM requests for this organization; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
