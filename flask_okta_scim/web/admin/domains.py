"""The Domains screen: verified email domains, and the organization's require-SSO switch.

``GET <prefix>/<org_id>/domains`` lists the domains the organization claimed,
verified or not, with the DNS TXT record that proves each one. **Add domain**
claims one and shows its record; **Verify** looks the record up through the
application's resolver (``OKTA_SCIM_DNS_*``) and shows the result: verified,
or why not. **Remove** drops a claim. **Require single sign-on** (**Save**)
lets only sessions opened through the organization's own Okta act in it; it
is turned on only from such a session, so that the admin keeps the console.
A verified domain makes the organization the manager of its accounts
(directory rule 9): the page says so before the admin verifies.
"""

from __future__ import annotations

import typing as t

from flask import flash
from flask import redirect
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import HiddenField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from ..._current import extension
from ...core.errors import DirectoryError
from ..session import get_sso_organization
from . import actor
from . import bp
from . import organization
from . import render


class AddDomainForm(FlaskForm):  # type: ignore[misc]
    domain = StringField("Domain", validators=[DataRequired(), Length(max=253)])


class DomainActionForm(FlaskForm):  # type: ignore[misc]
    domain = HiddenField(validators=[DataRequired(), Length(max=253)])


class RequireSsoForm(FlaskForm):  # type: ignore[misc]
    require_sso = BooleanField("Require single sign-on")


@bp.get("/<int:org_id>/domains")
def domains() -> t.Any:
    return _page()


@bp.post("/<int:org_id>/domains")
def add_domain() -> t.Any:
    form = AddDomainForm()
    if not form.validate_on_submit():
        return _page(400, add_form=form, error="Enter a domain, e.g. example.com.", field="domain")
    try:
        with extension().directory(actor=actor()).atomic() as directory:
            claim = directory.add_domain(organization(), form.domain.data)
            name = claim.domain
    except DirectoryError as e:
        return _page(400, add_form=form, error=str(e), field="domain")
    flash(f"Publish the TXT record below for {name}, then click Verify.")
    return redirect(url_for(".domains"))


@bp.post("/<int:org_id>/domains/verify")
def verify_domain() -> t.Any:
    form = DomainActionForm()
    if not form.validate_on_submit():
        return _page(400, error="The form expired: reload the page and try again.")
    ext = extension()
    try:
        with ext.directory(actor=actor()).atomic() as directory:
            check = directory.verify_domain(
                organization(), form.domain.data, ext.settings.resolver(), by_operator=False
            )
    except DirectoryError as e:
        return _page(400, error=str(e))
    if not check.verified:
        return _page(409, error=f"{form.domain.data} is not verified: {check.reason}")
    flash(f"{form.domain.data} is verified.")
    return redirect(url_for(".domains"))


@bp.post("/<int:org_id>/domains/remove")
def remove_domain() -> t.Any:
    form = DomainActionForm()
    if not form.validate_on_submit():
        return _page(400, error="The form expired: reload the page and try again.")
    try:
        with extension().directory(actor=actor()).atomic() as directory:
            directory.remove_domain(organization(), form.domain.data)
    except DirectoryError as e:
        return _page(400, error=str(e))
    flash(f"Removed {form.domain.data}.")
    return redirect(url_for(".domains"))


@bp.post("/<int:org_id>/domains/require-sso")
def require_sso() -> t.Any:
    form = RequireSsoForm()
    if not form.validate_on_submit():
        return _page(400, error="The form expired: reload the page and try again.")
    if form.require_sso.data and get_sso_organization() != organization():
        # This session would lose the console at its next request: prove the way in works.
        return _page(
            409,
            error="Sign in through your Okta first (Single sign-on, Test sign-in): once single "
            "sign-on is required, only such sessions can act in the organization.",
        )
    try:
        with extension().directory(actor=actor()).atomic() as directory:
            directory.set_require_sso(organization(), form.require_sso.data)
    except DirectoryError as e:
        return _page(409, error=str(e))
    flash("Single sign-on is required." if form.require_sso.data else "Passwords work again.")
    return redirect(url_for(".domains"))


def _page(
    status: int = 200,
    *,
    add_form: AddDomainForm | None = None,
    error: str | None = None,
    field: str | None = None,
) -> t.Any:
    directory = extension().directory()
    org = organization()
    claims = [
        {"claim": claim, "record": directory.domain_record(claim)}
        for claim in directory.domains(org)
    ]
    return render(
        "domains",
        status,
        claims=claims,
        add_form=add_form or AddDomainForm(formdata=None),
        action_form=DomainActionForm(formdata=None),
        sso_form=RequireSsoForm(formdata=None, require_sso=directory.requires_sso(org)),
        error=error,
        error_field=field,
    )
