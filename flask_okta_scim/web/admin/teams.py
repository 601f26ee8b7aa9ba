"""The Teams screen: the organization's teams, their members, and just-in-time domains.

``GET <prefix>/<org_id>/teams`` lists the teams with their members and whether
Okta manages each (a pushed or linked group). ``GET .../teams/<team_id>``
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
from wtforms import TextAreaField
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


@bp.get("/<int:org_id>/teams")
def teams() -> t.Any:
    directory = extension().directory()
    rows = [
        {
            "team": team,
            "managed_by_okta": directory.managed_by_okta(team),
            "members": directory.team_members(team),
            "domains": directory.team_domains(team),
        }
        for team in directory.teams(organization())
    ]
    return render("teams", teams=rows)


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
