"""How the sample app hooks its own resources to the extension's signals.

Receivers run inside the extension's transaction: they write through
``db.session`` and never commit. If one raises, the whole change is undone.
"""

from __future__ import annotations

import typing as t

from sqlalchemy import delete
from sqlalchemy import update

from flask_okta_scim import signals

from .models import Monitor
from .models import db


@signals.team_deleted.connect
def delete_team_monitors(sender: t.Any, *, team: t.Any, **kwargs: t.Any) -> None:
    """A team's monitors go with the team."""
    db.session.execute(delete(Monitor).where(Monitor.team_id == team.id))


@signals.user_deleted.connect
def forget_monitor_creator(sender: t.Any, *, account: t.Any, **kwargs: t.Any) -> None:
    """Monitors outlive the person who created them."""
    db.session.execute(
        update(Monitor).where(Monitor.created_by_id == account.id).values(created_by_id=None)
    )
