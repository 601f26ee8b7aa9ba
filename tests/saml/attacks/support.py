"""The cast of the attack tests (Acme's Okta, Globex's Okta, an impostor with the wrong
key; the victim and the attacker), tenants, the audit trail, and the checks every
refused sign-in must pass.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from flask import Flask

from sample_app.models import okta
from tests.saml_idp import IDP_CERT
from tests.saml_idp import IDP_KEY
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import me

VICTIM = "ada@acme.example"
ATTACKER = "eve@acme.example"
GLOBEX_ENTITY_ID = "http://www.okta.com/exkGLOBEX"

#: Acme's Okta app.
IDP = TestIdP(IDP_KEY, IDP_CERT, OKTA_ENTITY_ID)
#: Globex's Okta app: another key, another entity ID.
GLOBEX_IDP = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT, GLOBEX_ENTITY_ID)
#: The other key pretending to be Acme's Okta (same entity ID, wrong key).
IMPOSTOR = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT, OKTA_ENTITY_ID)

#: What python3-saml, lxml or Python say when something fails: never shown to the person.
LEAKS = (
    "Traceback",
    "Signature validation failed",
    "Could not validate timestamp",
    "is not signed",
    "must contain 1 assertion",
    "Deprecated signature algorithm",
    "DTDForbidden",
    "EntitiesForbidden",
    "XMLSyntaxError",
    "binascii",
    "onelogin",
    "OneLogin",
    "lxml",
    "InResponseTo",
    "replay",
)


# -- tenants ---------------------------------------------------------------------------------


@dataclass
class Tenant:
    org_id: t.Any
    name: str
    integration_id: str
    idp: TestIdP

    def response(self, name_id: str, **kwargs: t.Any) -> str:
        """A response of this tenant's own Okta for this tenant's connection."""
        return self.idp.for_connection(self.integration_id, name_id, **kwargs)


def make_tenant(
    app: Flask,
    name: str,
    idp: TestIdP,
    *,
    domains: tuple[str, ...] = ("acme.example",),
    members: tuple[str, ...] = (VICTIM,),
    configure: bool = True,
    allow_idp_initiated: bool = True,
) -> Tenant:
    """An organization with an Okta connection for ``idp``, a team pre-approving ``domains``."""
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        org = d.create_organization(name)
        conn = d.connect(org)
        if configure:
            d.configure_connection(
                conn,
                idp_entity_id=idp.entity_id,
                idp_sso_url=OKTA_SSO_URL,
                certificates=[idp.certificate],
            )
        if not allow_idp_initiated:
            d.set_allow_idp_initiated(conn, False)
        team = d.create_team(org, "Ops")
        for domain in domains:
            d.add_team_domain(team, domain)
        for email in members:
            account, _ = d.ensure_account(email)
            d.add_member(org, account)
        return Tenant(org.id, name, conn.integration_id, idp)


def sso_failures(app: Flask, org_id: t.Any) -> list[dict[str, t.Any]]:
    """The ``detail`` of every refused sign-in audited for the organization, newest first."""
    with app.app_context():
        d = okta.directory()
        rows = d.audit_log(d.get_organization(org_id), limit=1000)
        return [
            dict(row.detail or {})
            for row in rows
            if row.action == "sso.login" and row.outcome == "failure"
        ]


def sso_successes(app: Flask, org_id: t.Any) -> int:
    with app.app_context():
        d = okta.directory()
        rows = d.audit_log(d.get_organization(org_id), limit=1000)
        return sum(1 for row in rows if row.action == "sso.login" and row.outcome == "success")


def account_exists(app: Flask, email: str) -> bool:
    with app.app_context():
        return okta.directory().find_account(email) is not None


def assert_refused(
    app: Flask,
    browser: t.Any,
    response: t.Any,
    status: int | tuple[int, ...],
    org_id: t.Any,
    failures_before: int,
) -> dict[str, t.Any]:
    """The sign-in was refused properly; return the audit detail of the refusal."""
    body = response.get_data(as_text=True)
    allowed = status if isinstance(status, tuple) else (status,)
    assert response.status_code in allowed, (response.status_code, body[:500])
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers
    for leak in LEAKS:
        assert leak not in body, f"the error page leaks {leak!r}"
    assert me(browser).status_code == 401, "somebody is signed in"
    failures = sso_failures(app, org_id)
    assert len(failures) == failures_before + 1, "the refusal was not audited (once)"
    reason = failures[0].get("reason")
    assert isinstance(reason, str) and reason, failures[0]
    assert reason not in body, "the error page shows the failure reason"
    return failures[0]


# -- what a refused request may leave behind, and what it may cost ------------------------------


def audit_footprint(app: Flask) -> tuple[int, int]:
    """``(rows, longest detail in characters)`` of the whole audit table."""
    import json

    from sqlalchemy import select

    with app.app_context():
        details = okta.db.session.scalars(select(okta.models.audit.detail)).all()
        return len(details), max((len(json.dumps(d)) for d in details), default=0)


def authn_requests(app: Flask) -> int:
    """Rows of the sign-ins-in-progress table."""
    from sqlalchemy import func
    from sqlalchemy import select

    with app.app_context():
        return int(
            okta.db.session.scalar(select(func.count()).select_from(okta.models.authn_request))
        )


def timed(call: t.Callable[[], t.Any]) -> tuple[t.Any, float]:
    """``(result, CPU seconds of this process)`` of ``call()``.

    CPU time, not wall-clock time: what a request costs us, unmoved by other
    processes sharing the machine.
    """
    import time

    start = time.process_time()
    result = call()
    return result, time.process_time() - start


def good_sign_in_seconds(app: Flask, tenant: Tenant, email: str = VICTIM) -> float:
    """The median CPU time of five good IdP-initiated sign-ins here, each in a fresh browser
    (the yardstick attacks are measured against)."""
    import statistics

    from tests.saml_idp import post_acs

    samples = []
    for _ in range(5):
        browser = app.test_client()
        xml = tenant.response(email)
        response, seconds = timed(lambda: post_acs(browser, tenant.integration_id, xml))  # noqa: B023
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        samples.append(seconds)
    return t.cast(float, statistics.median(samples))
