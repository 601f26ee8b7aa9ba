"""The sample app's models: the host's own accounts, organizations and teams, plus monitors.

Nothing here is special to the sample: a real host writes the same few lines.
"""

from __future__ import annotations

from datetime import datetime

import flask_login
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from flask_okta_scim import OktaSCIM
from flask_okta_scim.sqla import AccountMixin
from flask_okta_scim.sqla import OrganizationMixin
from flask_okta_scim.sqla import TeamMixin
from flask_okta_scim.sqla.mixins import utcnow

db = SQLAlchemy()


class Organization(db.Model, OrganizationMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "organization"


class Account(db.Model, AccountMixin, flask_login.UserMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "account"


class Team(db.Model, TeamMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "team"


class Monitor(db.Model):  # type: ignore[name-defined,misc]
    """An uptime check owned by a team: the kind of resource a team deletion takes with it."""

    __tablename__ = "monitor"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2048))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OnCallShift(db.Model):  # type: ignore[name-defined,misc]
    """A person's turn on call for a team.

    ``account_id`` is a plain foreign key, without ``ON DELETE``: the past
    shifts are the team's history and must not lose whom they name. Under
    ``OKTA_SCIM_ACCOUNT_REMOVAL = "delete"`` a person with past shifts therefore
    cannot be deleted, and the extension disables the account instead.
    """

    __tablename__ = "oncall_shift"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    account: Mapped[Account] = relationship()


okta = OktaSCIM(db=db, account_model=Account, organization_model=Organization, team_model=Team)
