"""``flask okta-scim held``: the changes the mass-deprovisioning guard held, released or
discarded by an admin; ``org guard`` for an organization's thresholds."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..web.scim_hold import describe
from ..web.scim_hold import discard_held
from ..web.scim_hold import release_held
from ._common import emit
from ._common import explain
from ._common import reports_errors
from ._common import unit_of_work

held = AppGroup(
    "held",
    help="The destructive SCIM changes the mass-deprovisioning guard held for an admin.",
)


@held.command("list")
@click.argument("org_ref", metavar="ORG")
@click.option("--all", "everything", is_flag=True, help="Released and discarded ones too.")
@reports_errors
def list_(org_ref: str, everything: bool) -> None:
    """Print ORG's held changes (pending ones, oldest first) and whether ORG is held, as JSON."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        emit(
            {
                "held": directory.is_held(organization),
                "thresholds": directory.guard_settings(organization),
                "counts": directory.guard_counts(organization),
                "changes": [
                    describe(c)
                    for c in directory.held_changes(
                        organization, status=None if everything else "pending"
                    )
                ],
            }
        )


@held.command("release")
@click.argument("org_ref", metavar="ORG")
@click.argument("ids", nargs=-1, type=int)
@reports_errors
def release(org_ref: str, ids: tuple[int, ...]) -> None:
    """Apply ORG's held changes (the IDS given, or all), oldest first, each exactly once.

    Each is applied as its request would have been, in a unit of work of its
    own, and marked released with what came of it (applied, or why not: the
    person was deleted meanwhile, say). When nothing is pending any more, the
    guard's window starts again. Prints the changes as JSON.
    """
    with unit_of_work() as directory:
        organization_id = directory.get_organization(org_ref).id
    done, resumed = release_held(organization_id, list(ids) or None, actor="cli")
    emit(done)
    explain(f"Released {len(done)} change(s)." + (" Nothing is held any more." if resumed else ""))


@held.command("discard")
@click.argument("org_ref", metavar="ORG")
@click.argument("ids", nargs=-1, type=int)
@click.option("--yes", is_flag=True, help="Confirm: Okta believes these changes were made.")
@reports_errors
def discard(org_ref: str, ids: tuple[int, ...], yes: bool) -> None:
    """Drop ORG's held changes (the IDS given, or all) without applying them.

    Okta was told they were made: fix the assignment or group in Okta (the next
    change Okta sends for those people or groups applies as usual).
    """
    if not yes:
        raise click.ClickException(
            "Okta believes the held changes were made. Repeat with --yes to discard them."
        )
    with unit_of_work() as directory:
        organization_id = directory.get_organization(org_ref).id
    count, resumed = discard_held(organization_id, list(ids) or None, actor="cli")
    explain(f"Discarded {count} change(s)." + (" Nothing is held any more." if resumed else ""))


@held.command("guard")
@click.argument("org_ref", metavar="ORG")
@click.option("--window-minutes", type=click.IntRange(1, 7 * 24 * 60))
@click.option("--deactivations", type=click.IntRange(0), help="0: no count threshold.")
@click.option("--deactivation-percent", type=click.IntRange(0, 100), help="0: none.")
@click.option("--team-deletions", type=click.IntRange(0), help="0: no threshold.")
@click.option("--default", "default", is_flag=True, help="Back to the application's thresholds.")
@reports_errors
def guard(org_ref: str, default: bool, **values: int | None) -> None:
    """Show or set ORG's guard thresholds (those not given keep their value)."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        chosen = {k: v for k, v in values.items() if v is not None}
        if default:
            emit(directory.set_guard(organization, None))
        elif chosen:
            current = (
                dict(directory.get_connection(organization).guard or {})
                if directory.get_connection(organization)
                else {}
            )
            emit(directory.set_guard(organization, {**current, **chosen}))
        else:
            emit(directory.guard_settings(organization))
