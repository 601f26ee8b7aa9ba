"""The mass-deprovisioning guard: destructive SCIM changes held for an admin past a threshold.

A misconfigured Okta assignment rule, a deleted group that held the app's
assignment, a directory import gone wrong: Okta then deactivates hundreds of
people, or deletes many teams, in minutes, each request valid. The guard counts
an organization's destructive SCIM changes (deactivations and deletions of
people, deletions of teams) in a sliding window; past a threshold it trips, and
from then on each destructive change is **held**: recorded as it came, answered
to Okta as if applied (so that Okta does not retry it), and not applied. Later
writes to a person or group with a held change are held behind it, so that a
release applies them in order. An admin releases (applies in order, each once)
or discards them; the window then starts again.

This module keeps the state; :mod:`flask_okta_scim.web.scim_hold` decides per
request and replays on release.
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import distinct
from sqlalchemy import func
from sqlalchemy import select

from ..mixins import utcnow
from .connections import Connections
from .connections import _aware

#: Audit actions that count as deactivations, and as team deletions.
DEACTIVATIONS = ("user.deactivate", "user.delete")
TEAM_DELETIONS = ("team.quarantine", "team.delete", "team.detach")
#: The percentage threshold never trips below this many deactivations.
PERCENT_FLOOR = 20
#: What a threshold chosen for one organization may set.
GUARD_KEYS = ("window_minutes", "deactivations", "deactivation_percent", "team_deletions")


class ProvisioningGuard(Connections):
    """Thresholds, the held state and the held changes of each organization."""

    def guard_settings(self, organization: t.Any) -> dict[str, int]:
        """The thresholds in force for ``organization``: the host's, with its own choices over."""
        connection = self.get_connection(organization)
        chosen = (connection.guard or {}) if connection is not None else {}
        return {**self.guard_defaults, **{k: int(v) for k, v in chosen.items() if k in GUARD_KEYS}}

    def set_guard(self, organization: t.Any, values: dict[str, int] | None) -> dict[str, int]:
        """Choose thresholds for ``organization`` (``None``: the host's again); return those in
        force. Audited. Does not commit."""
        unknown = set(values or {}) - set(GUARD_KEYS)
        if unknown:
            raise ValueError(f"Unknown guard settings: {', '.join(sorted(unknown))}")
        connection = self.get_connection(organization) or self.connect(organization)
        connection.guard = dict(values) if values else None
        self.audit(
            organization,
            "provisioning.guard",
            "connection",
            connection.integration_id,
            chosen=dict(values) if values else "default",
        )
        return self.guard_settings(organization)

    def guard_counts(self, organization: t.Any) -> dict[str, int]:
        """Destructive SCIM changes of ``organization`` in the window (since the last release)."""
        settings = self.guard_settings(organization)
        since = utcnow() - timedelta(minutes=settings["window_minutes"])
        connection = self.get_connection(organization)
        released = _aware(connection.guard_released_at) if connection is not None else None
        if released is not None:
            since = max(since, released)
        audit = self.models.audit

        def distinct_targets(kinds: tuple[str, ...]) -> int:
            # Distinct people (or teams): Entra's DELETE /Users records a deactivation
            # and a deletion of the same person.
            return int(
                self.session.scalar(
                    select(func.count(distinct(audit.target_id))).where(
                        audit.organization_id == organization.id,
                        audit.created_at >= since,
                        audit.action.in_(kinds),
                        audit.actor.startswith("scim:"),
                    )
                )
                or 0
            )

        return {
            "deactivations": distinct_targets(DEACTIVATIONS),
            "team_deletions": distinct_targets(TEAM_DELETIONS),
        }

    def guard_trips(self, organization: t.Any, actions: Iterable[str]) -> str | None:
        """Why ``actions`` (the audit actions of the change at hand, already recorded) take
        ``organization`` past a threshold; ``None`` when they do not."""
        actions = list(actions)
        settings = self.guard_settings(organization)
        counts = self.guard_counts(organization)
        if any(a in DEACTIVATIONS for a in actions):
            limits = []
            if settings["deactivations"]:
                limits.append(settings["deactivations"])
            if settings["deactivation_percent"]:
                m = self.models.membership
                members = (
                    self.session.scalar(
                        select(func.count()).where(m.organization_id == organization.id)
                    )
                    or 0
                )
                base = members + counts["deactivations"]
                limits.append(
                    max(PERCENT_FLOOR, math.ceil(base * settings["deactivation_percent"] / 100))
                )
            if limits and counts["deactivations"] > min(limits):
                return (
                    f"{counts['deactivations']} deactivations in {settings['window_minutes']} "
                    f"minutes (more than {min(limits)})"
                )
        if (
            any(a in TEAM_DELETIONS for a in actions)
            and settings["team_deletions"]
            and counts["team_deletions"] > settings["team_deletions"]
        ):
            return (
                f"{counts['team_deletions']} team deletions in {settings['window_minutes']} "
                f"minutes (more than {settings['team_deletions']})"
            )
        return None

    # -- the held state ----------------------------------------------------------------------

    def is_held(self, organization: t.Any) -> bool:
        """Whether destructive SCIM changes of ``organization`` are being held."""
        c = self.models.connection
        held = self.session.scalar(
            select(c.guard_held_at).where(c.organization_id == organization.id)
        )
        return held is not None

    def lock_guard(self, organization: t.Any) -> None:
        """Serialize the guard's decisions for ``organization`` (its connection row, ``FOR
        UPDATE`` where the database has it), so that concurrent requests count each other."""
        c = self.models.connection
        self.session.execute(
            select(c.id).where(c.organization_id == organization.id).with_for_update()
        )

    def start_holding(self, organization: t.Any, reason: str) -> None:
        """Hold ``organization``'s destructive changes from now on. Audited. Does not commit."""
        connection = self.get_connection(organization)
        if connection is None or connection.guard_held_at is not None:
            return
        connection.guard_held_at = utcnow()
        self.audit(
            organization,
            "provisioning.held",
            "connection",
            connection.integration_id,
            reason=reason,
        )

    def hold_change(
        self,
        organization: t.Any,
        *,
        method: str,
        resource: str,
        resource_id: str,
        body: t.Any,
        if_match: str | None,
        reason: str,
        status: str = "pending",
    ) -> t.Any:
        """Record a SCIM write instead of applying it; return the record.

        ``status`` is ``pending`` (held by the guard) or ``planned`` (dry run). A
        ``password`` anywhere in ``body`` is dropped (never stored); the record
        says so. Audited as ``provisioning.hold`` or ``provisioning.plan``. Does
        not commit.
        """
        body, dropped = _without_passwords(body)
        change = self.models.held_change(
            organization_id=organization.id,
            actor=self.actor,
            method=method,
            resource=resource,
            resource_id=resource_id[:64],
            body=body,
            if_match=if_match,
            reason=reason[:200],
            password_dropped=dropped,
            status=status,
        )
        self.session.add(change)
        self.session.flush()
        self.audit(
            organization,
            "provisioning.plan" if status == "planned" else "provisioning.hold",
            resource.lower().rstrip("s"),
            resource_id,
            change=change.id,
            method=method,
            reason=reason[:200],
        )
        return change

    def has_pending_change(self, organization: t.Any, resource_id: str) -> bool:
        """Whether a held change of ``resource_id`` waits: later writes to it wait behind."""
        h = self.models.held_change
        return (
            self.session.scalar(
                select(h.id)
                .where(
                    h.organization_id == organization.id,
                    h.resource_id == resource_id,
                    h.status == "pending",
                )
                .limit(1)
            )
            is not None
        )

    def held_changes(self, organization: t.Any, status: str | None = "pending") -> list[t.Any]:
        """``organization``'s held changes (of one ``status``, or all), oldest first."""
        h = self.models.held_change
        where = [h.organization_id == organization.id]
        if status is not None:
            where.append(h.status == status)
        return list(self.session.scalars(select(h).where(*where).order_by(h.id)))

    def next_pending_change(
        self, organization: t.Any, ids: Iterable[int] | None = None, *, status: str = "pending"
    ) -> t.Any:
        """The oldest held change (of ``ids`` only, if given) of that ``status`` (``planned``
        for a dry run's), locked; or ``None``."""
        h = self.models.held_change
        where = [h.organization_id == organization.id, h.status == status]
        if ids is not None:
            where.append(h.id.in_(list(ids)))
        return self.session.scalar(
            select(h).where(*where).order_by(h.id).limit(1).with_for_update(skip_locked=True)
        )

    def decide_change(self, change: t.Any, status: str, outcome: str | None = None) -> None:
        """Mark a held change ``released`` or ``discarded`` (with what came of it). Audited."""
        change.status = status
        change.decided_at = utcnow()
        change.decided_by = self.actor
        change.outcome = (outcome or "")[:500] or None
        action = {
            "released": "provisioning.release",
            "discarded": "provisioning.discard",
            "applied": "provisioning.apply",
        }[status]
        self.audit(
            change.organization_id,
            action,
            change.resource.lower().rstrip("s"),
            change.resource_id,
            change=change.id,
            outcome=change.outcome,
        )

    # -- dry run -------------------------------------------------------------------------

    def is_dry_run(self, organization: t.Any) -> bool:
        """Whether ``organization``'s SCIM writes are planned, not applied (dry run)."""
        c = self.models.connection
        return bool(
            self.session.scalar(
                select(c.provisioning_dry_run).where(c.organization_id == organization.id)
            )
        )

    def set_dry_run(self, organization: t.Any, on: bool) -> None:
        """Put provisioning in dry run, or take it out (without applying anything: see
        :func:`flask_okta_scim.web.scim_hold.arm`). Audited. Does not commit."""
        connection = self.get_connection(organization)
        if connection is None or bool(connection.provisioning_dry_run) == on:
            return
        connection.provisioning_dry_run = on
        self.audit(
            organization,
            "provisioning.dry_run" if on else "provisioning.armed",
            "connection",
            connection.integration_id,
        )

    def planned_ids(self, organization: t.Any) -> set[str]:
        """The resource ids that planned changes of ``organization`` concern."""
        h = self.models.held_change
        return set(
            self.session.scalars(
                select(h.resource_id).where(
                    h.organization_id == organization.id, h.status == "planned"
                )
            )
        )

    def planned_for(self, organization: t.Any, resource_ids: Iterable[str]) -> list[t.Any]:
        """The planned changes of these resources, in the order they came."""
        h = self.models.held_change
        ids = list(resource_ids)
        if not ids:
            return []
        return list(
            self.session.scalars(
                select(h)
                .where(
                    h.organization_id == organization.id,
                    h.status == "planned",
                    h.resource_id.in_(ids),
                )
                .order_by(h.id)
            )
        )

    def stop_holding_if_done(self, organization: t.Any) -> bool:
        """End the held state once nothing is pending; the window starts again. Returns
        whether it ended. Does not commit."""
        if self.held_changes(organization):
            return False
        connection = self.get_connection(organization)
        if connection is None or connection.guard_held_at is None:
            return False
        connection.guard_held_at = None
        connection.guard_released_at = utcnow()
        self.audit(organization, "provisioning.resumed", "connection", connection.integration_id)
        return True


def _without_passwords(body: t.Any) -> tuple[t.Any, bool]:
    """``body`` with every ``password`` key removed (at any depth), and whether one was."""
    dropped = False

    def strip(value: t.Any) -> t.Any:
        nonlocal dropped
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(key, str) and key.lower() == "password":
                    dropped = True
                    continue
                if (
                    isinstance(key, str)
                    and key.lower() == "path"
                    and str(item).lower() == "password"
                ):
                    dropped = True
                out[key] = strip(item)
            return out
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    cleaned = strip(body)
    if isinstance(cleaned, dict) and isinstance(cleaned.get("Operations"), list):
        cleaned["Operations"] = [
            op
            for op in cleaned["Operations"]
            if not (isinstance(op, dict) and str(op.get("path", "")).lower() == "password")
        ]
    return cleaned, dropped
