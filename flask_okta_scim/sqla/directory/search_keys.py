"""What filters compare: folded keys and every email address of an identity.

SCIM filters never call SQL ``lower()`` (ASCII-only on SQLite, locale-bound on
PostgreSQL): case-insensitive values are stored a second time, folded in Python
(:func:`~flask_okta_scim.core.text.fold`), and a user's ``emails`` are rows of
``identity_email``. The writers of :mod:`.identities` keep them current;
:meth:`SearchKeys.reindex` rebuilds them for rows written before they existed,
or by plain SQL.
"""

from __future__ import annotations

import typing as t

from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select

from ...core.text import fold
from ...scim.attributes import email_elements
from ...scim.attributes import folded_keys
from .._sql import chunks
from ..models import unlinked_group_of
from .team_removal import TeamRemoval

#: Starts the key of a deleted identity's released userName.
_RELEASED = "\x1freleased:"


class SearchKeys(TeamRemoval):
    """Folded keys of identities and groups, and the identities' email rows."""

    def reindex(self, organization: t.Any | None = None) -> dict[str, int]:
        """Recompute every folded key and email row (of ``organization``, or all).

        For databases written by an earlier version, and teams made or renamed
        with plain SQL (which the ORM events of ``models.py`` do not see): gives
        every team its SCIM group row. Returns counts: ``identities``,
        ``groups`` (keys rewritten) and ``teams_linked_to_groups`` (rows
        created). Does not change any version or timestamp a client sees.
        Does not commit.
        """
        ident, group, team = self.models.identity, self.models.group, self.models.team
        counts = {"identities": 0, "groups": 0, "teams_linked_to_groups": 0}
        where = [] if organization is None else [ident.organization_id == organization.id]
        ids = list(self.session.scalars(select(ident.id).where(*where).order_by(ident.id)))
        for batch in chunks(ids, 200):
            for identity in self.session.scalars(select(ident).where(ident.id.in_(batch))):
                if not identity.user_name_key.startswith(_RELEASED):
                    identity.user_name_key = fold(identity.user_name)
                identity.folded = folded(identity)
                self._index_emails(identity)
                counts["identities"] += 1
            self.session.flush()
        counts["teams_linked_to_groups"] = self.give_teams_group_rows(organization)
        group_where = [] if organization is None else [group.organization_id == organization.id]
        for row, name in self.session.execute(
            select(group, team.name).join(team, team.id == group.team_id).where(*group_where)
        ):
            if row.name_key != fold(name):
                row.name_key = fold(name)
                counts["groups"] += 1
        self.session.flush()
        return counts

    def give_teams_group_rows(self, organization: t.Any | None = None) -> int:
        """Make the missing SCIM group rows of ``organization``'s teams (or all); return how many.

        A team inserted with plain SQL (a legacy import, a host's script) has
        none until this runs: SCIM would neither list it nor see its name as
        taken. A quarantined team has none on purpose and gets none. One
        anti-join when nothing is missing. Does not commit.
        """
        group, team, q = self.models.group, self.models.team, self.models.team_quarantine
        where = [] if organization is None else [team.organization_id == organization.id]
        missing = self.session.scalars(
            select(team)
            .where(
                *where,
                ~select(group.id).where(group.team_id == team.id).exists(),
                ~select(q.team_id).where(q.team_id == team.id).exists(),
            )
            .order_by(team.id)
        ).all()
        for found in missing:
            self.session.add(group(**unlinked_group_of(found)))
        self.session.flush()
        return len(missing)

    def _index_emails(self, identity: t.Any, *, new: bool = False) -> None:
        """Rewrite the identity's rows of ``identity_email`` from its SCIM ``emails``.

        ``new``: the identity was just inserted and has no rows to delete.
        """
        e = self.models.identity_email
        if not new:
            self.session.execute(delete(e).where(e.identity_id == identity.id))
        rows = [
            {"identity_id": identity.id, "position": n, **element}
            for n, element in enumerate(email_elements(identity.attributes or {}))
        ]
        if rows:
            self.session.execute(insert(e), rows)

    def _release_user_name(self, deleted: t.Any) -> None:
        """Free a deleted identity's userName for another one (RFC 7644 §3.6).

        The deleted row keeps its userName for the record; its key becomes one
        no userName can have (control characters are refused in userNames), so
        a create with the old name no longer revives it.
        """
        deleted.user_name_key = f"{_RELEASED}{deleted.id}"
        self._flush("A user with this userName was created at the same moment; retry.")


def folded(identity: t.Any) -> dict[str, str]:
    """The folded keys of ``identity``'s case-insensitive attributes (``displayName``...)."""
    keys = folded_keys(identity.attributes or {})
    if identity.display_name and "displayName" not in keys:
        keys["displayName"] = fold(identity.display_name)
    return keys
