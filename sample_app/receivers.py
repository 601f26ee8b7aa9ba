"""How the sample app hooks its own resources to the extension's signals.

Receivers run inside the extension's transaction: they write through
``db.session`` and never commit. If one raises, the whole change is undone.

Each is connected for the sample's own applications only (:func:`ours`): a
process may run other Flask apps with the extension (the test suite does),
whose signals carry their own app as sender.
"""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from flask_okta_scim import signals
from flask_okta_scim.sqla.mixins import utcnow

from .models import Monitor
from .models import OnCallShift
from .models import Team
from .models import db

Receiver = Callable[..., None]


def ours(receiver: Receiver) -> Receiver:
    """Run ``receiver`` only when the sender is an app that uses the sample's ``db``."""

    @functools.wraps(receiver)
    def wrapper(sender: t.Any, **kwargs: t.Any) -> None:
        if sender.extensions.get("sqlalchemy") is db:
            receiver(sender, **kwargs)

    return wrapper


@signals.team_deleted.connect
@ours
def delete_team_monitors(sender: t.Any, *, team: t.Any, **kwargs: t.Any) -> None:
    """A team's monitors go with the team."""
    db.session.execute(delete(Monitor).where(Monitor.team_id == team.id))


@signals.user_deleted.connect
@ours
def forget_monitor_creator(sender: t.Any, *, account: t.Any, **kwargs: t.Any) -> None:
    """Monitors outlive the person who created them."""
    db.session.execute(
        update(Monitor).where(Monitor.created_by_id == account.id).values(created_by_id=None)
    )


@signals.user_detached.connect
@ours
def drop_future_shifts(
    sender: t.Any, *, organization: t.Any, account: t.Any, **kwargs: t.Any
) -> None:
    """Whoever leaves an organization is not paged for it any more; past shifts stay."""
    teams = select(Team.id).where(Team.organization_id == organization.id)
    db.session.execute(
        delete(OnCallShift).where(
            OnCallShift.account_id == account.id,
            OnCallShift.team_id.in_(teams),
            OnCallShift.ends_at > utcnow(),
        )
    )
