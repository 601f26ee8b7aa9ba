"""The Single sign-on screen's **Advanced SAML settings**: the SP key and the Okta options.

On the same screen as :mod:`.sso`, below the values for Okta:

- **Service provider key**: its fingerprint and state, **Generate key** (the first
  is active at once; with one active, the new one waits as *next*, published in the
  metadata), **Activate next key**, and **Download certificate** (PEM) to upload to
  Okta. The organization's own keys, or the application's when it has none.
- **Sign requests**, **Require encrypted assertions**, and Okta's **Single Logout
  URL** (by hand; a metadata link brings its own), saved together.

Each change is a POST with the console's CSRF token, audited with the admin as the
actor. A private key never reaches the page.
"""

from __future__ import annotations

import typing as t

from flask import Response
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import StringField
from wtforms.validators import Length
from wtforms.validators import Optional

from ..._current import extension
from ...core.errors import DirectoryError
from . import actor
from . import bp
from . import organization
from . import render


class KeyForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token: the button says what to do."""


class OptionsForm(FlaskForm):  # type: ignore[misc]
    sign_requests = BooleanField("Sign requests (Okta: Signed Requests)")
    encrypt_assertions = BooleanField("Require encrypted assertions (Okta: Assertion Encryption)")
    idp_slo_url = StringField("Okta's Single Logout URL", validators=[Optional(), Length(max=2048)])


def saml_options(connection: t.Any) -> dict[str, t.Any]:
    """What the screen's Advanced SAML settings show, for :func:`.sso._page`."""
    if connection is None:
        return {}
    keys = [k for k in extension().directory().sp_keys(connection) if k.state != "retired"]
    return {
        "sp_keys": keys,
        "sp_keys_shared": bool(keys) and keys[0].connection_id is None,
        "key_form": KeyForm(),
        "options_form": OptionsForm(
            sign_requests=connection.sign_requests,
            encrypt_assertions=connection.encrypt_assertions,
            idp_slo_url=connection.idp_slo_url,
        ),
    }


@bp.post("/<int:org_id>/sso/sp-key")
def sp_key() -> t.Any:
    if not KeyForm().validate_on_submit():
        return render("error", 400, message="The form expired: reload the page and try again.")
    action = request.form.get("action")
    try:
        with extension().directory(actor=actor()).atomic() as directory:
            connection = directory.get_connection(organization())
            if connection is None:
                raise DirectoryError("Connect first.")
            if action == "activate":
                row = directory.activate_sp_key(connection)
                message = f"Key {row.fingerprint} is active: requests are signed with it now."
            else:
                row = directory.generate_sp_key(
                    connection,
                    extension().sp_key_vault(),
                    common_name=f"SAML SP {connection.integration_id}",
                )
                message = (
                    "Key generated. Download its certificate and upload it to Okta."
                    if row.state == "active"
                    else "Next key generated: upload its certificate to Okta, then activate it."
                )
    except DirectoryError as e:
        flash(str(e))
    else:
        flash(message)
    return redirect(url_for(".sso") + "#saml-options")


@bp.get("/<int:org_id>/sso/sp-certificate.pem")
def sp_certificate() -> Response:
    """The active (or ``?key=next``) SP certificate, PEM, as a download."""
    wanted = "next" if request.args.get("key") == "next" else "active"
    directory = extension().directory()
    connection = directory.get_connection(organization())
    found = [k for k in directory.sp_keys(connection) if k.state == wanted] if connection else []
    if not found:
        return Response("No such certificate.\n", 404, mimetype="text/plain")
    return Response(
        found[0].certificate,
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="sp-{wanted}.pem"'},
    )


@bp.post("/<int:org_id>/sso/options")
def options() -> t.Any:
    form = OptionsForm()
    if not form.validate_on_submit():
        return render("error", 400, message="The form expired: reload the page and try again.")
    slo_url = (form.idp_slo_url.data or "").strip() or None
    try:
        with extension().directory(actor=actor()).atomic() as directory:
            connection = directory.get_connection(organization())
            if connection is None:
                raise DirectoryError("Connect first.")
            if bool(connection.sign_requests) != form.sign_requests.data:
                directory.set_signed_requests(connection, form.sign_requests.data)
            if bool(connection.encrypt_assertions) != form.encrypt_assertions.data:
                directory.set_encrypted_assertions(connection, form.encrypt_assertions.data)
            if connection.idp_slo_url != slo_url:
                directory.set_idp_slo_url(connection, slo_url)
    except DirectoryError as e:
        flash(str(e))
    else:
        flash("Saved.")
    return redirect(url_for(".sso") + "#saml-options")
