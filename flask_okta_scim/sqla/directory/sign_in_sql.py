"""The statements of a sign-in, built once per set of models (every sign-in runs them).

A returning person's sign-in on PostgreSQL is four round trips: ``BEGIN``; the
connection, its organization and the member the assertion names (one
``SELECT``); the replay-cache row and the audit entry (one ``INSERT``); the
``COMMIT``. An SP-initiated one adds the ``DELETE ... RETURNING`` that takes
the answered request. Nothing here decides anything:
:mod:`.sign_in` does.
"""

from __future__ import annotations

import functools
import typing as t

from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import null
from sqlalchemy import select
from sqlalchemy.dialects import postgresql


def _member_columns(models: t.Any, organization_id: t.Any) -> tuple[t.Any, ...]:
    a, m, c = models.account, models.membership, models.account_control
    disabled = a.disabled_at if models.has("account", "disabled_at") else c.disabled_at
    return a, m, c, disabled, (m.account_id == a.id) & (m.organization_id == organization_id)


@functools.cache
def member_lookup(models: t.Any) -> t.Any:
    """An account by email (``email``), with its role in an organization (``organization``),
    credentials epoch and when it was disabled."""
    a, m, c, disabled, joined = _member_columns(models, bindparam("organization"))
    return (
        select(a, m.role, c.epoch, disabled)
        .outerjoin(m, joined)
        .outerjoin(c, c.account_id == a.id)
        .where(func.lower(a.email) == func.lower(bindparam("email")))
    )


@functools.cache
def connection_with_member(models: t.Any) -> t.Any:
    """A connection by Integration ID (``integration_id``), its organization, and what
    :func:`member_lookup` reads for ``email`` in that organization (``None`` columns if
    there is no such account)."""
    conn, org = models.connection, models.organization
    a, m, c, disabled, joined = _member_columns(models, conn.organization_id)
    return (
        select(conn, org, a, m.role, c.epoch, disabled)
        .join(org, org.id == conn.organization_id)
        .outerjoin(a, func.lower(a.email) == func.lower(bindparam("email")))
        .outerjoin(m, joined)
        .outerjoin(c, c.account_id == a.id)
        .where(conn.integration_id == bindparam("integration_id"))
    )


@functools.cache
def take_request(models: t.Any) -> t.Any:
    """Delete this browser's unexpired request (``id``, ``connection``, ``browser``,
    ``purpose``, ``now``) and return its next path."""
    ar = models.authn_request
    return (
        delete(ar)
        .where(
            ar.id == bindparam("id"),
            ar.connection_id == bindparam("connection"),
            ar.browser_key == bindparam("browser"),
            ar.purpose == bindparam("purpose"),
            ar.expires_at > bindparam("now"),
        )
        .returning(ar.next_path)
    )


@functools.cache
def remember_and_audit(models: t.Any) -> t.Any:
    """PostgreSQL: insert the replay-cache row (``connection_id``, ``assertion_id``,
    ``expires_at``) and, only if it was new, the sign-in's audit entry
    (``organization_id``, ``created_at``, ``actor``, ``detail``): one statement, whose
    row count is 1 for a fresh assertion and 0 for a replay."""
    seen = models.assertion_seen.__table__
    audit = models.audit.__table__
    fresh = (
        postgresql.insert(seen)
        .values(
            connection_id=bindparam("connection_id"),
            assertion_id=bindparam("assertion_id"),
            expires_at=bindparam("expires_at"),
        )
        .on_conflict_do_nothing()
        .returning(seen.c.assertion_id)
        .cte("fresh")
    )
    entry = select(
        bindparam("organization_id", type_=Integer),
        bindparam("created_at", type_=DateTime(timezone=True)),
        bindparam("actor", type_=String),
        literal("sso.login", String),
        literal("person", String),
        null(),
        literal("success", String),
        bindparam("detail", type_=JSON),
    ).select_from(fresh)
    columns = [
        "organization_id",
        "created_at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "outcome",
        "detail",
    ]
    return insert(audit).from_select(columns, entry).add_cte(fresh).returning(audit.c.id)
