"""A minimal host application of Flask-Okta-SCIM: teams own projects.

Copy it as a starting point. It has the three models the extension needs
(``Organization``, ``Account``, ``Team``), one resource of its own
(``Project``, owned by a team), a ``team_deleted`` receiver that archives a
team's projects when Okta deletes the team, and two pages for a signed-in
person. It keeps its data in SQLite.
"""

from __future__ import annotations

import typing as t
from datetime import datetime
from datetime import timezone

from flask import Flask
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
from flask_login import login_required
from flask_okta_scim import OktaSCIM
from flask_okta_scim import signals
from flask_okta_scim.sqla import AccountMixin
from flask_okta_scim.sqla import OrganizationMixin
from flask_okta_scim.sqla import TeamMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import event
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

db = SQLAlchemy()
login_manager = LoginManager()


class Organization(db.Model, OrganizationMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "organization"


class Account(db.Model, AccountMixin, UserMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "account"


class Team(db.Model, TeamMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "team"


class Project(db.Model):  # type: ignore[name-defined,misc]
    """A team's project. Archived, not deleted, when its team goes away.

    ``team_id`` has no ``ON DELETE`` rule: the database refuses to delete a
    team that still owns a project, so a team can only go through
    :func:`archive_team_projects`.
    """

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


okta = OktaSCIM(
    db=db,
    account_model=Account,
    organization_model=Organization,
    team_model=Team,
)


@signals.team_deleted.connect
def archive_team_projects(sender: Flask, *, team: Team, **kwargs: t.Any) -> None:
    """Archive the projects of a team that is about to be deleted.

    Runs inside the extension's transaction, before the team's row goes: it
    writes through ``db.session`` and does not commit. The projects keep their
    organization and lose their team.
    """
    db.session.execute(
        update(Project)
        .where(Project.team_id == team.id)
        .values(team_id=None, archived_at=datetime.now(timezone.utc))
    )


@login_manager.user_loader
def load_account(account_id: str) -> Account | None:
    return db.session.get(Account, int(account_id))


def create_app(config: dict[str, t.Any] | None = None) -> Flask:
    """Build the application: defaults, then ``FLASK_*`` environment variables, then ``config``.

    Creates the tables that do not exist yet (the host's and the extension's).
    """
    app = Flask(__name__)
    app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite:///myapp.sqlite")
    app.config.from_prefixed_env()  # FLASK_OKTA_SCIM_BASE_URL -> OKTA_SCIM_BASE_URL
    app.config.update(config or {})
    db.init_app(app)
    okta.init_app(app)
    login_manager.init_app(app)

    @app.get("/me")
    @login_required
    def me() -> dict[str, t.Any]:
        """Who is signed in, and in which organizations."""
        organizations = okta.directory().organizations_of(current_user)
        return {"email": current_user.email, "organizations": [o.name for o in organizations]}

    @app.get("/people")
    @login_required
    def people() -> dict[str, t.Any]:
        """The members of the signed-in person's organizations (and nobody else)."""
        directory = okta.directory()
        emails = {
            account.email
            for organization in directory.organizations_of(current_user)
            for account, _role in directory.members(organization)
        }
        return {"people": sorted(emails)}

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_foreign_keys)
        db.create_all()
    return app


def _sqlite_foreign_keys(dbapi_connection: t.Any, connection_record: t.Any) -> None:
    """SQLite checks foreign keys only when asked, once per connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
