"""The Teams screen: the organization's teams, their members, and just-in-time domains.

``GET <prefix>/<org_id>/teams`` lists the teams with their members and whether
Okta manages each (a pushed or linked group); what happens **When Okta deletes
a team** (the organization's team-deletion policy, ``POST .../teams/deletion``);
and the quarantined teams with the date the purge may delete each, each with a
**Restore** button (``POST .../teams/<team_id>/restore``). ``GET .../teams/<team_id>``
configures one team's **Pre-approved domains**: people whose email is in one
of them, signing in through the organization's Okta, join the team (and the
organization) just in time. ``POST`` (**Save**) replaces the list as a
whole: every domain is checked first (its syntax, listed twice, verified by
another organization) and one bad domain changes nothing.
"""

from __future__ import annotations

import re
import typing as t

from flask import abort
from flask import flash
from flask import redirect
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import AnyOf
from wtforms.validators import Length

from ..._current import extension
from ...core.emails import normalize_domain
from ...core.errors import DirectoryError
from ...core.errors import InvalidValue
from . import actor
from . import bp
from . import organization
from . import render

#: How a list of domains may be separated: new lines, commas, blanks.
_SEPARATORS = re.compile(r"[\s,;]+")
#: At most this many domains per team.
MAX_DOMAINS = 50


class DomainsForm(FlaskForm):  # type: ignore[misc]
    domains = TextAreaField("Pre-approved domains", validators=[Length(max=MAX_DOMAINS * 260)])


#: The team-deletion policies, as the screen offers them.
POLICIES = [
    ("quarantine", "Set the team aside: it can be restored until it is purged"),
    ("delete", "Delete the team and everything it owns at once"),
    ("detach", "Keep the team as an ordinary team, no longer managed by Okta"),
]


class DeletionForm(FlaskForm):  # type: ignore[misc]
    # Radio buttons rendered by the template from POLICIES (no choices= here: their
    # form changed between WTForms releases).
    policy = StringField("When Okta deletes a team", validators=[AnyOf([p for p, _ in POLICIES])])


class RestoreForm(FlaskForm):  # type: ignore[misc]
    pass


@bp.get("/<int:org_id>/teams")
def teams() -> t.Any:
    return _teams_page()


def _teams_page(status: int = 200, **extra: t.Any) -> t.Any:
    directory = extension().directory()
    org = organization()
    rows = [
        {
            "team": team,
            "managed_by_okta": directory.managed_by_okta(team),
            "members": directory.team_members(team),
            "domains": directory.team_domains(team),
        }
        for team in directory.teams(org)
    ]
    extra.setdefault("deletion_form", DeletionForm(policy=directory.team_deletion_policy(org)))
    return render(
        "teams",
        status,
        teams=rows,
        quarantined=directory.quarantined_teams(org),
        restore_form=RestoreForm(),
        policies=POLICIES,
        default_policy=directory.team_deletion,
        **extra,
    )


@bp.post("/<int:org_id>/teams/deletion")
def save_deletion_policy() -> t.Any:
    form = DeletionForm()
    if not form.validate_on_submit():
        return _teams_page(400, deletion_form=form, error="Choose one of the three.")
    with extension().directory(actor=actor()).atomic() as directory:
        directory.set_team_deletion_policy(organization(), form.policy.data)
    flash("Saved what happens when Okta deletes a team.")
    return redirect(url_for(".teams"))


@bp.post("/<int:org_id>/teams/<int:team_id>/restore")
def restore_team(team_id: int) -> t.Any:
    found = _team(team_id)
    if not RestoreForm().validate_on_submit():
        abort(400)
    try:
        with extension().directory(actor=actor()).atomic() as directory:
            back = directory.restore_team(found)
            name = found.name
    except DirectoryError as e:
        return _teams_page(400, error=str(e))
    flash(f"Restored {name} with {len(back)} member(s).")
    return redirect(url_for(".teams"))


@bp.get("/<int:org_id>/teams/<int:team_id>")
def team(team_id: int) -> t.Any:
    found = _team(team_id)
    domains = extension().directory().team_domains(found)
    return render("team", team=found, form=DomainsForm(domains="\n".join(domains)))


@bp.post("/<int:org_id>/teams/<int:team_id>")
def save_team(team_id: int) -> t.Any:
    found = _team(team_id)
    form = DomainsForm()
    if not form.validate_on_submit():
        return render("team", 400, team=found, form=form, error="Check the list and try again.")
    try:
        wanted = parse_domains(form.domains.data or "")
        with extension().directory(actor=actor()).atomic() as directory:
            current = set(directory.team_domains(found))
            for domain in wanted:
                if domain not in current:
                    directory.add_team_domain(found, domain)
            for domain in current - set(wanted):
                directory.remove_team_domain(found, domain)
    except DirectoryError as e:
        return render("team", 400, team=found, form=form, error=str(e))
    flash(f"Saved the pre-approved domains of {found.name}.")
    return redirect(url_for(".teams"))


def parse_domains(text: str) -> list[str]:
    """The normalised domains of ``text``, in order; :class:`InvalidValue` names the first bad one.

    A domain listed twice (after normalising: ``Acme.example`` is ``acme.example``)
    is refused rather than silently merged. Does not look at who verified them.
    """
    out: list[str] = []
    for raw in (part for part in _SEPARATORS.split(text) if part):
        raw = raw.removeprefix("@")
        try:
            domain = normalize_domain(raw)
        except InvalidValue as e:
            raise InvalidValue(f"{raw[:100]!r}: {e}") from None
        if domain in out:
            raise InvalidValue(f"{domain} is listed twice.")
        out.append(domain)
    if len(out) > MAX_DOMAINS:
        raise InvalidValue(f"At most {MAX_DOMAINS} domains per team.")
    return out


def _team(team_id: int) -> t.Any:
    """The team, if it belongs to the page's organization; 404 otherwise (ids are not secret)."""
    found = extension().db.session.get(extension().models.team, team_id)
    if found is None or found.organization_id != organization().id:
        abort(404)
    return found
