"""``make demo``: the sample app with a simulated Okta, so that nothing else is needed.

With ``SAMPLE_SIMULATED_OKTA`` on (``make demo`` sets ``FLASK_SAMPLE_SIMULATED_OKTA=1``),
:func:`mount` puts :mod:`flask_okta_scim.testing`'s simulated Okta at
``/simulated-okta``, with a key kept in the instance folder, and ``seed-demo``
(:func:`connect`) configures the demo organization's connection from its metadata,
signs its admin in once through the real ACS (which connects the connection) and
turns provisioning on. Never do this in production: the simulator signs anybody in.
"""

from __future__ import annotations

import os
import sys
import typing as t
from base64 import b64encode

from flask import Flask
from flask import current_app

from flask_okta_scim.testing import SimulatedIdP
from flask_okta_scim.testing.organizations import trust
from flask_okta_scim.testing.web import URL_PREFIX
from flask_okta_scim.testing.web import init_simulator

from .models import okta

#: The config key that mounts the simulated Okta.
ENABLED = "SAMPLE_SIMULATED_OKTA"
#: People the simulated Okta's sign-in page offers: the admin, a colleague, a newcomer, and
#: one person each of the onboarding and offboarding scenarios that seed-demo suggests.
PEOPLE = (
    "admin@demo.example",
    "ann@demo.example",
    "new.person@demo.example",
    "engineer01@demo.example",
    "finance4@demo.example",
)


def mount(app: Flask) -> SimulatedIdP | None:
    """Mount the simulated Okta when ``SAMPLE_SIMULATED_OKTA`` is on; return it, or ``None``."""
    if not app.config.get(ENABLED):
        return None
    idp = _load_or_make(app)
    init_simulator(app, idp, people=PEOPLE, force=True)
    app.extensions["sample_simulated_okta"] = idp
    return idp


def _load_or_make(app: Flask) -> SimulatedIdP:
    """The simulator's key and certificate from the instance folder, made on first start.

    Kept, so that the demo organization's connection (which trusts the
    certificate) keeps working across restarts.
    """
    key_path = os.path.join(app.instance_path, "simulated-okta.key")
    cert_path = os.path.join(app.instance_path, "simulated-okta.crt")
    base = (app.config.get("OKTA_SCIM_BASE_URL") or "").rstrip("/")
    if not base:
        raise RuntimeError("The simulated Okta needs OKTA_SCIM_BASE_URL (its sign-in page URL).")
    entity_id, sso_url = "http://www.okta.com/exkSIMULATEDDEMO", f"{base}{URL_PREFIX}/sso"
    if os.path.exists(key_path) and os.path.exists(cert_path):
        with open(key_path) as key, open(cert_path) as cert:
            return SimulatedIdP(key.read(), cert.read(), entity_id, sso_url)
    idp = SimulatedIdP.generate(entity_id, sso_url, common_name="Simulated Okta (demo)")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as key:
        key.write(idp.key_pem)
    with open(cert_path, "w") as cert:
        cert.write(idp.cert_pem)
    return idp


def flask_command() -> str:
    """How to call ``flask`` for this app again, as it was called now (``make demo``'s venv)."""
    program = sys.argv[0] if sys.argv and os.path.basename(sys.argv[0]) == "flask" else "flask"
    if os.path.isabs(program) and program.startswith(os.getcwd() + os.sep):
        program = os.path.relpath(program)
    return f"{program} --app sample_app"


def connect(organization: t.Any, admin_email: str) -> str | None:
    """Connect ``organization`` to the simulated Okta and turn provisioning on.

    Configures the connection from the simulator's metadata, signs
    ``admin_email`` in once through the application's ACS (the first
    successful sign-in connects it), then enables provisioning. Returns the
    SCIM bearer token, or ``None`` when the simulator is not mounted.
    """
    idp: SimulatedIdP | None = current_app.extensions.get("sample_simulated_okta")
    if idp is None:
        return None
    with okta.directory(actor="seed-demo").atomic() as directory:
        integration_id = trust(directory, organization, idp).integration_id
    settings = okta.settings
    xml = idp.for_connection(
        integration_id, admin_email, base_url=settings.base_url, sso_prefix=settings.sso_url_prefix
    )
    acs = f"{settings.sso_url_prefix}/{integration_id}/acs"
    answer = current_app.test_client().post(
        acs, data={"SAMLResponse": b64encode(xml.encode()).decode()}, base_url=settings.base_url
    )
    if answer.status_code != 302:
        raise RuntimeError(f"The demo sign-in through the simulated Okta failed: {answer.status}")
    with okta.directory(actor="seed-demo").atomic() as directory:
        token: str = directory.enable_provisioning(organization)
        return token
