"""``flask okta-scim purge``: delete what waited long enough (quarantined teams, old audit
entries)."""

from __future__ import annotations

import json
import logging
import typing as t
from datetime import timedelta

import click
from flask.cli import with_appcontext

from .._current import extension
from ..logs import log
from ..sqla.mixins import utcnow
from ._common import explain
from ._common import public_id
from ._common import reports_errors


@click.command("purge")
@with_appcontext
@reports_errors
def purge() -> None:
    """Delete the quarantined teams whose grace period is over, old audit entries, and
    single-logout records that outlived every session they could end.

    Each team is deleted in a unit of work of its own, after the host's
    ``team_deleted`` receivers ran; prints one JSON object per team deleted.
    Then audit entries older than OKTA_SCIM_AUDIT_RETENTION_DAYS (unless 0)
    are deleted in batches; prints their count as JSON. Safe from cron on
    several hosts at once (each team is deleted once), and idempotent. A team
    whose deletion fails (a receiver raised, a foreign key refused) stays
    quarantined and is named on stderr; the exit status is then 1.
    """
    okta = extension()
    failed: list[str] = []
    skip: list[t.Any] = []
    while True:
        team_id: t.Any = None
        try:
            with okta.directory(actor="purge").atomic() as directory:
                team = directory.next_team_to_purge(skip=skip)
                if team is None:
                    break
                team_id, name = team.id, team.name
                directory.purge_team(team)
        except Exception as e:  # that team's unit of work was rolled back: keep it, go on
            if team_id is None:
                raise
            skip.append(team_id)
            failed.append(f"team {public_id(team_id)} ({name!r}): {type(e).__name__}")
            log(
                "team.purge_failed",
                logging.ERROR,
                "Could not purge the quarantined team %s: %s",
                team_id,
                type(e).__name__,
                reference=public_id(team_id),
                exc_info=True,
            )
            continue
        click.echo(json.dumps({"team": public_id(team_id), "name": name, "purged": True}))
    days = okta.settings.audit_retention_days
    if days:
        cutoff, deleted = utcnow() - timedelta(days=days), 0
        while True:
            with okta.directory(actor="purge").atomic() as directory:
                count = directory.purge_audit(cutoff)
            deleted += count
            if not count:
                break
        click.echo(json.dumps({"audit_entries_deleted": deleted, "older_than": cutoff.isoformat()}))
    with okta.directory(actor="purge").atomic() as directory:
        logouts = directory.purge_logouts()
    if logouts:
        click.echo(json.dumps({"logouts_deleted": logouts}))
    if failed:
        raise click.ClickException("These teams stay quarantined: " + "; ".join(failed))
    explain("Nothing left to purge.")
