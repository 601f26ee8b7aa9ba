"""The sample app's pages: a home page showing organizations, teams and members; sign-in; /me."""

from __future__ import annotations

import typing as t
from datetime import timedelta

from flask import Blueprint
from flask import abort
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from flask_okta_scim import get_sso_organization
from flask_okta_scim import may_act_in
from flask_okta_scim import single_logout
from flask_okta_scim.core.redirects import safe_next_path
from flask_okta_scim.passwords import hash_password
from flask_okta_scim.passwords import verify_password
from flask_okta_scim.sqla.mixins import utcnow

from . import is_admin
from .models import Monitor
from .models import OnCallShift
from .models import Organization
from .models import Team
from .models import db
from .models import okta

bp = Blueprint("sample", __name__)


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = StringField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class MonitorForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    url = StringField("URL", validators=[DataRequired(), Length(max=2048)])


@bp.get("/")
def index() -> str:
    """The organizations this session may act in, with their teams, members and monitors.

    Anonymous visitors see none: which organizations and people exist is not public.
    """
    directory = okta.directory()
    organizations = []
    mine = directory.organizations_of(current_user) if current_user.is_authenticated else []
    for org in [o for o in mine if may_act_in(o)]:
        teams = []
        for team in directory.teams(org):
            teams.append(
                {
                    "team": team,
                    "managed_by_okta": directory.group_of(team) is not None,
                    "domains": directory.team_domains(team),
                    "members": directory.team_members(team),
                    "monitors": db.session.scalars(
                        select(Monitor).where(Monitor.team_id == team.id).order_by(Monitor.id)
                    ).all(),
                    "shifts": db.session.scalars(
                        select(OnCallShift)
                        .where(OnCallShift.team_id == team.id, OnCallShift.ends_at > utcnow())
                        .order_by(OnCallShift.starts_at)
                    ).all(),
                }
            )
        organizations.append(
            {
                "org": org,
                "members": directory.members(org),
                "teams": teams,
                "admin": is_admin(current_user, org),
            }
        )
    return render_template("index.html", organizations=organizations, monitor_form=MonitorForm())


#: Checked when no account has the email (or it has no password), so that a wrong
#: email takes as long as a wrong password: the answer's timing tells nothing.
_DUMMY_HASH = hash_password("no account has this password")


@bp.route("/login", methods=["GET", "POST"])
def login() -> t.Any:
    form = LoginForm()
    if form.validate_on_submit():
        account = okta.directory().find_account(form.email.data.strip())
        if account is None or account.password_hash is None:
            verify_password(_DUMMY_HASH, form.password.data)
        elif account.check_password(form.password.data):
            # Removed from its last organization and kept (OKTA_SCIM_ACCOUNT_REMOVAL).
            if okta.directory().is_disabled(account):
                flash("This account is disabled: ask your organization's administrator.")
                return render_template("login.html", form=form), 403
            login_user(account)
            return redirect(safe_next_path(request.args.get("next")) or url_for("sample.index"))
        flash("Wrong email or password.")
    return render_template("login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
def logout() -> t.Any:
    """Sign out here and, for an Okta session with single logout set up, at Okta too."""
    return single_logout(url_for("sample.index"))


@bp.get("/me")
def me() -> t.Any:
    """The signed-in account as JSON, or 401."""
    if not current_user.is_authenticated:
        return jsonify(error="Not signed in."), 401
    directory = okta.directory()
    return jsonify(
        id=str(current_user.id),
        email=current_user.email,
        display_name=current_user.display_name,
        # The organization whose identity provider vouched for this session;
        # None after a password sign-in.
        sso_organization=(
            {"id": str(sso.id), "name": sso.name} if (sso := get_sso_organization()) else None
        ),
        # Only where this session may act: a session vouched for by one organization
        # does not learn which other organizations the person belongs to.
        organizations=[
            {
                "id": str(org.id),
                "name": org.name,
                "role": directory.member_role(org, current_user),
                "teams": [
                    {"id": str(team.id), "name": team.name}
                    for team in directory.teams_of(current_user, org)
                ],
            }
            for org in directory.organizations_of(current_user)
            if may_act_in(org)
        ],
    )


def _my_team(team_id: int) -> t.Any:
    """The team, if the current session may act in it as one of its members; else 404 or 403."""
    team = db.session.get(Team, team_id)
    if team is None:
        abort(404)
    # may_act_in: a member, not vouched for by another organization, and signed in
    # through the organization's Okta if it requires single sign-on.
    if not may_act_in(db.session.get(Organization, team.organization_id)):
        abort(403)
    if team not in okta.directory().teams_of(current_user):
        abort(403)
    return team


@bp.post("/teams/<int:team_id>/oncall")
@login_required
def take_shift(team_id: int) -> t.Any:
    """Put the current person on call for the team for the next seven days."""
    team = _my_team(team_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    now = utcnow()
    db.session.add(
        OnCallShift(team_id=team.id, account_id=current_user.id, starts_at=now, ends_at=now + WEEK)
    )
    db.session.commit()
    return redirect(url_for("sample.index"))


#: The length of an on-call shift.
WEEK = timedelta(days=7)


@bp.post("/teams/<int:team_id>/monitors")
@login_required
def add_monitor(team_id: int) -> t.Any:
    team = _my_team(team_id)
    form = MonitorForm()
    if not form.validate_on_submit():
        abort(400)
    db.session.add(
        Monitor(
            team_id=team.id, name=form.name.data, url=form.url.data, created_by_id=current_user.id
        )
    )
    db.session.commit()
    return redirect(url_for("sample.index"))
