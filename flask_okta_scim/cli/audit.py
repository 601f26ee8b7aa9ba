"""``flask okta-scim audit``: an organization's audit log."""

from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone

import click
from flask.cli import with_appcontext

from ..sqla.directory.base import audit_entry
from ._common import reports_errors
from ._common import unit_of_work


@click.command("audit")
@click.argument("org_ref", metavar="ORG")
@click.option("--since", metavar="ISO", help="Only entries at or after this time (ISO 8601).")
@click.option("--kind", help="Only this action (user.update) or family of actions (user, sso).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", default=1000, show_default=True, help="At most this many (the newest).")
@with_appcontext
@reports_errors
def audit(org_ref: str, since: str | None, kind: str | None, as_json: bool, limit: int) -> None:
    """Print ORG's audit log, oldest first: who did what, and the outcome.

    Entries never contain passwords or tokens. Changes that the organization
    sent but that were not applied (for an account it does not manage) have
    the outcome "not_applied" and say why.
    """
    start = _parse_time(since) if since else None
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        rows = directory.audit_log(organization, limit=limit, since=start, kind=kind)
    for row in reversed(rows):
        entry = audit_entry(row)
        if as_json:
            click.echo(json.dumps(entry, sort_keys=True))
        else:
            detail = " ".join(f"{k}={v}" for k, v in sorted((row.detail or {}).items()))
            target = entry["target"] or "-"
            click.echo(
                f"{entry['at']}  {row.actor}  {row.action}  {target}  {row.outcome}  {detail}"
            )


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time.", param_hint="--since"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
