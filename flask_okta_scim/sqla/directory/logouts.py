"""Single logouts an IdP asked for, and the sessions they end on every process.

Sessions live in the host's cookies, so a LogoutRequest received by one
process cannot delete them: it records a *logout* (the connection, the
person's NameID as a SHA-256 ``name_key``, the IdP session index if named),
and :meth:`~.ownership.Ownership.session_still_valid` — which every request of
a signed-in person runs anyway — ends, at its next request on any process,
each session that this connection vouched for, of that person, opened before
the logout (and, when the IdP named sessions, with one of those indexes).
Sessions vouched for by another organization's connection are never touched,
whoever the NameID names.
"""

from __future__ import annotations

import hashlib
import secrets
import typing as t
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true

from ..mixins import utcnow
from .base import DirectoryBase


def name_key(name_id: str) -> str:
    """What a session and a logout record keep of a NameID: its SHA-256, hex."""
    return hashlib.sha256(name_id.strip().encode("utf-8")).hexdigest()


class Logouts(DirectoryBase):
    """Recording IdP-initiated single logouts and telling which sessions they ended."""

    def record_logout(
        self,
        connection: t.Any,
        name_id: str,
        session_indexes: Sequence[str],
        *,
        keep: timedelta,
        initiated_by: str,
    ) -> None:
        """End ``name_id``'s sessions vouched for by ``connection`` (all, or those indexes).

        ``keep`` is how long the record must outlive the sessions it ends
        (the host's session lifetime). Audited with the number of sessions
        named, not the NameID. Expired records are deleted now and then.
        Does not commit.
        """
        lo = self.models.logout
        now = utcnow()
        if secrets.randbelow(16) == 0:
            self.session.execute(delete(lo).where(lo.expires_at < now))
        key = name_key(name_id)
        indexes: list[str | None] = [i[:256] for i in session_indexes if i] or [None]
        for index in indexes:
            self.session.add(
                lo(
                    connection_id=connection.id,
                    name_key=key,
                    session_index=index,
                    created_at=now,
                    expires_at=now + keep,
                )
            )
        self.session.flush()
        self.audit(
            connection.organization_id,
            "sso.logout",
            "connection",
            connection.integration_id,
            initiated_by=initiated_by,
            sessions=len(session_indexes) or "all",
        )

    def logged_out_clause(self, stamp: dict[str, t.Any]) -> t.Any:
        """An SQL boolean: whether a logout ended the SSO session recorded in ``stamp``.

        ``None`` (nothing to ask) for a session that is not an SSO session
        with a recorded NameID (``name_id``, ``session_index``, ``at``,
        ``integration_id`` of :func:`~flask_okta_scim.web.session.record_sign_in`).
        One indexed EXISTS; does not run it.
        """
        integration_id, name_id = stamp.get("integration_id"), stamp.get("name_id")
        signed_in = stamp.get("at")
        if stamp.get("via") != "sso" or not integration_id or not name_id or signed_in is None:
            return None
        lo, c = self.models.logout, self.models.connection
        connection_id = select(c.id).where(c.integration_id == integration_id).scalar_subquery()
        opened = datetime.fromtimestamp(float(signed_in), timezone.utc)
        index = stamp.get("session_index")
        return (
            select(lo.id)
            .where(
                lo.connection_id == connection_id,
                lo.name_key == name_key(str(name_id)),
                lo.created_at >= opened,
                # A session whose IdP session index is unknown ends with any logout of
                # the person; one with an index, with a logout of it or of all.
                or_(lo.session_index.is_(None), lo.session_index == index) if index else true(),
            )
            .exists()
        )

    def purge_logouts(self) -> int:
        """Delete logout records past their date; return how many. Does not commit."""
        lo = self.models.logout
        result = self.session.execute(delete(lo).where(lo.expires_at < utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
