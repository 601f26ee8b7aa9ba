"""``flask okta-scim sso refresh-metadata``: fetch Okta's metadata again, now or from cron.

Registered on the ``sso`` group of :mod:`.sso`. Each connection is fetched
outside any transaction, then applied in a unit of work of its own
(:func:`~flask_okta_scim.sqla.directory.metadata_refresh.refresh_from_source`),
so one connection's failure (even an exception) does not undo or stop another's
refresh, and several hosts may run the command at once.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta

import click

from .._current import extension
from ..logs import log
from ..sqla.directory.metadata_refresh import FAILED
from ..sqla.directory.metadata_refresh import MetadataSource
from ..sqla.directory.metadata_refresh import refresh_from_source
from ._common import emit
from ._common import explain
from ._common import public_id
from ._common import reports_errors
from ._common import unit_of_work
from .sso import sso


@sso.command("refresh-metadata")
@click.argument("org_ref", metavar="ORG", required=False)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Every connection due for a refresh (last checked OKTA_SCIM_METADATA_REFRESH_HOURS "
    "ago or more, or never); for cron.",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --all: every connection that has a metadata URL, due or not.",
)
@reports_errors
def refresh_metadata(org_ref: str | None, every: bool, force: bool) -> None:
    """Fetch the IdP metadata of ORG (or of every connection due, --all) and apply it.

    A new signing certificate is trusted at once; one the metadata no longer
    lists stays trusted for OKTA_SCIM_CERTIFICATE_OVERLAP_DAYS days, then
    goes. A metadata document that cannot be fetched or read, has a refused
    certificate, or names another identity provider changes nothing and is
    reported (signal, audit entry, log). Prints one line per connection
    (``ORG NAME INTEGRATION_ID: refreshed ...``, ``unchanged``, ``failed:
    reason``); exits 1 if one failed. Safe from cron on several hosts at once.
    """
    if bool(org_ref) == every:
        raise click.UsageError("Give ORG, or --all.")
    if force and not every:
        raise click.UsageError("--force goes with --all.")
    settings = extension().settings
    with unit_of_work() as directory:
        if every:
            every_hours = None if force else timedelta(hours=settings.metadata_refresh_hours)
            sources = directory.metadata_sources(every=every_hours)
        else:
            organization = directory.get_organization(org_ref)
            sources = directory.metadata_sources(organization=organization)
            if not sources:
                raise click.ClickException(
                    f"{organization.name!r} has no connection configured from a metadata URL: "
                    "run 'sso configure ORG --metadata-url URL' first."
                )
    if not sources:
        explain("No connection is due for a metadata refresh.")
    failed = False
    overlap = timedelta(days=settings.certificate_overlap_days)
    for source in sources:
        try:
            outcome = refresh_from_source(
                lambda: extension().directory(actor="cli"),
                source,
                allow_private=settings.metadata_allow_private,
                overlap=overlap,
            )
        except Exception as e:  # that connection's unit of work was rolled back: go on
            failed = True
            log(
                "metadata.refresh_failed",
                logging.ERROR,
                "Could not apply the IdP metadata of connection %s: %s",
                source.integration_id,
                type(e).__name__,
                organization=source.organization_id,
                connection=source.integration_id,
                reason=type(e).__name__,
                exc_info=True,
            )
            emit(f"{_name(source)}: failed: {type(e).__name__} (nothing was applied; see the log)")
            continue
        failed = failed or outcome.result == FAILED
        emit(f"{_name(source)}: {outcome.describe()}")
    if failed:
        sys.exit(1)


def _name(source: MetadataSource) -> str:
    organization = f"{public_id(source.organization_id)} {source.organization_name!r}"
    return f"{organization} {source.integration_id}"
