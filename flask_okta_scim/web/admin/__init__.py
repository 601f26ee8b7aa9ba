"""The customer admin's console: the setup guide's screens, for every host.

An optional blueprint the host mounts (``okta.init_admin(app, may_administer=...)``)
under ``OKTA_SCIM_ADMIN_URL_PREFIX`` (default ``/okta-scim/admin``). Every page
is about one organization, ``<prefix>/<org_id>/<screen>``, and is served only
to a signed-in person who may act in that organization with this session
(:func:`~flask_okta_scim.may_act_in`: a member, vouched for by no other
organization, through its own Okta when it requires SSO) *and* whom the host's
``may_administer(account, organization)`` callback accepts. Anybody else gets
403, whether or not the organization exists; anonymous visitors go to the
host's sign-in (Flask-Login's ``unauthorized``).

Pages render ``okta_scim/admin/<screen>.html``, which extend
``OKTA_SCIM_ADMIN_LAYOUT`` (the host's own base template, whose ``content``
block they fill; by default a plain page of the extension's). A host
overrides any of them by putting a template of the same name in its own
``templates/`` folder. Forms are Flask-WTF forms: every POST carries a CSRF
token. This module does not decide what an admin may do beyond that: the
directory service applies the same rules as for the command line.
"""

from __future__ import annotations

import typing as t
from collections import defaultdict
from collections.abc import Callable

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import g
from flask import render_template
from flask import request
from flask_login import current_user

from ..._current import extension
from ..session import may_act_in

#: ``may_administer(account, organization) -> bool``: the host's answer.
MayAdminister = Callable[[t.Any, t.Any], bool]

bp = Blueprint(
    "okta_scim_admin",
    __name__,
    template_folder="../../templates",
    static_folder="static",
    static_url_path="/_static",
)


@bp.url_value_preprocessor
def _organization(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
    if values is not None and "org_id" in values:
        g.okta_scim_org_id = values.pop("org_id")


@bp.url_defaults
def _keep_organization(endpoint: str, values: dict[str, t.Any]) -> None:
    if "org_id" not in values and "okta_scim_org_id" in g and endpoint != "okta_scim_admin.static":
        values["org_id"] = g.okta_scim_org_id


@bp.before_request
def _only_admins() -> t.Any:
    """Sign-in first; then 403 unless this session may administer the organization."""
    if request.endpoint == "okta_scim_admin.static":
        return None
    if not current_user.is_authenticated:
        manager = getattr(current_app, "login_manager", None)
        return manager.unauthorized() if manager is not None else abort(401)
    ext = extension()
    organization = ext.db.session.get(ext.models.organization, g.get("okta_scim_org_id"))
    if organization is None or not may_act_in(organization):
        abort(403)
    if ext.may_administer is None or not ext.may_administer(current_user, organization):
        abort(403)
    g.okta_scim_org = organization
    return None


@bp.after_request
def _private(response: Response) -> Response:
    """Admin pages show tokens and settings: never cached, never framed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def organization() -> t.Any:
    """The organization of the current admin page (checked by the guard)."""
    return g.okta_scim_org


def actor() -> str:
    """Who acts, for the audit log: the signed-in admin's account id."""
    return f"admin:{current_user.get_id()}"


def render(screen: str, status: int = 200, **context: t.Any) -> tuple[str, int]:
    """Render ``okta_scim/admin/<screen>.html`` inside the configured layout.

    ``error_field`` names the form field an ``error`` is about: the template's
    ``invalid[field]`` then marks it (``aria-invalid``, described by the error).
    """
    field = context.pop("error_field", None)
    invalid: dict[str, dict[str, str]] = defaultdict(dict)
    if context.get("error") and field:
        invalid[field] = {"aria-invalid": "true", "aria-describedby": "form-error"}
    return (
        render_template(
            f"okta_scim/admin/{screen}.html",
            layout=extension().settings.admin_layout,
            organization=organization(),
            screen=screen,
            invalid=invalid,
            **context,
        ),
        status,
    )


# The screens register their views on ``bp``.
from . import audit  # noqa: E402, F401
from . import domains  # noqa: E402, F401
from . import provisioning  # noqa: E402, F401
from . import sso  # noqa: E402, F401
from . import sso_metadata  # noqa: E402, F401
from . import sso_options  # noqa: E402, F401
from . import teams  # noqa: E402, F401
