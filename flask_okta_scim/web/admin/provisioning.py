"""The Provisioning screen: SCIM on and off, the bearer token shown once, what Okta sent.

``GET <prefix>/<org_id>/provisioning`` shows whether provisioning is on, the
SCIM base URL to paste into Okta, when Okta last called, the last failed
requests, and the people whose changes were not applied (with the reason).
**Enable provisioning** (offered once single sign-on is connected, with the
reason until then), **Rotate token** and **Disable provisioning** are POSTs.
Enabling and rotating answer the page itself, not a redirect, with the new
**Bearer token**: it is in that one response only (never stored in clear,
never in the session, ``Cache-Control: no-store``). Each of those forms
carries a one-time value kept in the session: a reload, which sends the POST
again, issues nothing and says so, instead of a second token that would cut
off the one just copied.

With **Dry run first** ticked, Enable turns provisioning on in dry run: the
screen then lists the planned changes, and **Apply the plan and go live**
(``POST .../provisioning/arm``) applies them and ends the dry run.
When the mass-deprovisioning guard holds the organization's destructive changes,
**Held changes** says why and lists them; **Apply held changes** (``POST
.../provisioning/held/release``) applies them in order, **Discard held changes**
(``POST .../provisioning/held/discard``, with a confirmation box) drops them.
"""

from __future__ import annotations

import hmac
import secrets
import typing as t
from datetime import timedelta

from flask import flash
from flask import redirect
from flask import session
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import HiddenField

from ..._current import extension
from ...core.errors import NotReady
from ...sqla.directory.connections import CONNECTED
from ..scim_hold import arm
from ..scim_hold import discard_held
from ..scim_hold import release_held
from . import actor
from . import bp
from . import organization
from . import render

#: Audit entries listed under "last errors" and "not applied".
RECENT = 10
#: Held or planned changes listed (each with the name of whom it is about).
LISTED = 100
#: Where the session keeps the one-time value of the next Enable or Rotate (not a secret).
ISSUE_KEY = "_okta_scim_issue"


class ActionForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token: each action is one button."""


class IssueForm(ActionForm):
    """**Enable provisioning** and **Rotate token**: a one-time value, so that reloading the
    answer (which re-sends the POST) issues no second token and cuts nobody off."""

    once = HiddenField()
    dry_run = BooleanField("Dry run first: plan Okta's changes, apply them when I say so")


@bp.get("/<int:org_id>/provisioning")
def provisioning() -> t.Any:
    return _page()


@bp.post("/<int:org_id>/provisioning/enable")
def enable() -> t.Any:
    dry_run = bool(IssueForm().dry_run.data)
    return _issue(lambda directory: directory.enable_provisioning(organization(), dry_run=dry_run))


@bp.post("/<int:org_id>/provisioning/arm")
def arm_provisioning() -> t.Any:
    if not ActionForm().validate_on_submit():
        return _page(400, error="The form expired: reload the page and try again.")
    if not extension().directory().is_dry_run(organization()):
        return redirect(url_for(".provisioning"))
    done = arm(organization().id, actor=actor())
    applied = sum(1 for c in done if c["outcome"] == "applied")
    flash(f"Applied {applied} of {len(done)} planned change(s). Provisioning is live.")
    return redirect(url_for(".provisioning"))


@bp.post("/<int:org_id>/provisioning/rotate")
def rotate() -> t.Any:
    grace = timedelta(seconds=extension().settings.token_rotation_grace)
    return _issue(lambda directory: directory.rotate_token(organization(), grace))


class DiscardForm(ActionForm):
    confirm = BooleanField("Okta believes these changes were made: I will fix them in Okta")


@bp.post("/<int:org_id>/provisioning/held/release")
def release_held_changes() -> t.Any:
    if not ActionForm().validate_on_submit():
        return _page(400, error="The form expired: reload the page and try again.")
    done, resumed = release_held(organization().id, actor=actor())
    applied = sum(1 for c in done if c["outcome"] == "applied")
    flash(
        f"Applied {applied} of {len(done)} held change(s)."
        + (" Provisioning runs as usual again." if resumed else "")
    )
    return redirect(url_for(".provisioning"))


@bp.post("/<int:org_id>/provisioning/held/discard")
def discard_held_changes() -> t.Any:
    form = DiscardForm()
    if not form.validate_on_submit() or not form.confirm.data:
        return _page(400, error="Tick the box to confirm: Okta believes these changes were made.")
    count, resumed = discard_held(organization().id, actor=actor())
    flash(
        f"Discarded {count} held change(s)."
        + (" Provisioning runs as usual again." if resumed else "")
    )
    return redirect(url_for(".provisioning"))


@bp.post("/<int:org_id>/provisioning/disable")
def disable() -> t.Any:
    if not ActionForm().validate_on_submit():
        return _page(400, error="The form expired: reload the page and try again.")
    try:
        with extension().directory(actor=actor()).atomic() as directory:
            directory.disable_provisioning(organization())
    except NotReady as e:
        return _page(409, error=str(e))
    flash("Provisioning is off: every token stopped working.")
    return redirect(url_for(".provisioning"))


def _issue(action: t.Callable[[t.Any], str]) -> t.Any:
    form = IssueForm()
    if not form.validate_on_submit():
        return _page(400, error="The form expired: reload the page and try again.")
    issued = session.get(ISSUE_KEY)
    if not issued or not hmac.compare_digest(str(issued), str(form.once.data or "")):
        flash(
            "This page was sent again (a reload?): no new token was issued. If you did not "
            "copy the token, use Rotate token."
        )
        return redirect(url_for(".provisioning"))
    session.pop(ISSUE_KEY, None)
    try:
        with extension().directory(actor=actor()).atomic() as directory:
            token = action(directory)
    except NotReady as e:
        return _page(409, error=str(e))
    return _page(token=token)


def _page(status: int = 200, *, token: str | None = None, error: str | None = None) -> t.Any:
    ext = extension()
    directory = ext.directory()
    org = organization()
    connection = directory.get_connection(org)
    held = directory.held_changes(org)
    plan = directory.held_changes(org, status="planned")
    failures = [
        r for r in directory.audit_log(org, limit=200, kind="scim") if r.outcome == "failure"
    ]
    not_applied = [
        r for r in directory.audit_log(org, limit=200, kind="user") if r.outcome == "not_applied"
    ]
    settings = ext.settings
    once = session.setdefault(ISSUE_KEY, secrets.token_urlsafe(16))
    return render(
        "provisioning",
        status,
        connection=connection,
        sso_connected=connection is not None and connection.status == CONNECTED,
        enabled=bool(connection and connection.provisioning_enabled),
        scim_base_url=settings.url(settings.scim_url_prefix) if settings.has_base_url else None,
        last_request=directory.last_scim_request(org),
        failures=failures[:RECENT],
        not_applied=not_applied[:RECENT],
        token=token,
        error=error,
        form=ActionForm(),
        issue_form=IssueForm(formdata=None, once=once),
        held=directory.is_held(org),
        held_changes=[_held_row(directory, org, c) for c in held[:LISTED]],
        held_count=len(held),
        held_reason=_held_reason(directory, org),
        dry_run=directory.is_dry_run(org),
        plan=[_held_row(directory, org, c) for c in plan[:LISTED]],
        plan_count=len(plan),
        discard_form=DiscardForm(formdata=None),
    )


def _held_row(directory: t.Any, org: t.Any, change: t.Any) -> dict[str, t.Any]:
    """A held change with the name of whom or what it is about."""
    body = change.body if isinstance(change.body, dict) else {}
    name = str(body.get("userName") or body.get("displayName") or change.resource_id)
    if change.resource == "Users":
        identity = directory.get_identity(org, change.resource_id)
        name = identity.user_name if identity is not None else name
    else:
        group = extension().db.session.get(directory.models.group, change.resource_id)
        team = group and extension().db.session.get(directory.models.team, group.team_id)
        name = team.name if team else name
    return {"change": change, "name": name}


def _held_reason(directory: t.Any, org: t.Any) -> str | None:
    rows = directory.audit_log(org, limit=1, kind="provisioning.held")
    return rows[0].detail.get("reason") if rows else None
