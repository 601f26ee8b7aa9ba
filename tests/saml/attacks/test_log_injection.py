"""Bounded, clean logs and audit: sender-chosen values reach the log and the audit table
escaped (one line) and cut; refusals past the per-connection and per-address budgets are
answered 429 and write nothing but one summary line per window.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask
from lxml import etree

from tests.conftest import sample_app_on
from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import VICTIM
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import audit_footprint
from tests.saml.attacks.support import good_sign_in_seconds
from tests.saml.attacks.support import make_tenant
from tests.saml.attacks.support import sso_failures
from tests.saml.attacks.support import timed
from tests.saml_idp import NS_SAMLP
from tests.saml_idp import STATUS_RESPONDER
from tests.saml_idp import encode
from tests.saml_idp import me
from tests.saml_idp import post_acs

#: A forged log line (XML allows these characters in text).
FORGED = "\n2030-01-01 00:00:00 INFO flask_okta_scim.sso admin signed in\r\u2028\u202e"
#: And a terminal escape, outside XML.
ESCAPE = "\x1b[2J"


def _status_message(text: str) -> t.Callable[[etree._Element], None]:
    def tweak(root: etree._Element) -> None:
        status = root.find(f"{{{NS_SAMLP}}}Status")
        assert status is not None
        etree.SubElement(status, f"{{{NS_SAMLP}}}StatusMessage").text = text

    return tweak


CASES: dict[str, t.Callable[[Tenant], str]] = {
    "status-message-300k": lambda a: a.response(
        VICTIM, status=STATUS_RESPONDER, tweak=_status_message("A" * 300_000 + FORGED)
    ),
    "status-message-newlines": lambda a: a.response(
        VICTIM, status=STATUS_RESPONDER, tweak=_status_message(FORGED * 50)
    ),
    "garbage-quoted-by-the-parser": lambda a: "<x>" + (FORGED + ESCAPE) * 1000,
    "nameid-of-an-unknown-person": lambda a: a.response("eve" + FORGED.strip() + "@evil.example"),
}


def _check_logs(records: list[logging.LogRecord]) -> None:
    for record in records:
        if record.name.startswith("flask_okta_scim"):
            message = record.getMessage()
            assert "\n" not in message and "\r" not in message and "\x1b" not in message
            assert "\u2028" not in message
            assert len(message) < 1000, len(message)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_sender_chosen_values_are_escaped_and_cut(
    app: Flask, acme: Tenant, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    yardstick = good_sign_in_seconds(app, acme)
    rows_before, _ = audit_footprint(app)
    browser = app.test_client()
    caplog.set_level(logging.INFO)
    sent = CASES[case](acme)
    if case == "garbage-quoted-by-the-parser":
        call = lambda: browser.post(  # noqa: E731
            f"{app.config['OKTA_SCIM_BASE_URL']}/users/sign-in/sso/okta/{acme.integration_id}/acs",
            data={"SAMLResponse": encode(sent)},
        )
    else:
        call = lambda: post_acs(browser, acme.integration_id, sent)  # noqa: E731
    response, seconds = timed(call)
    assert 400 <= response.status_code < 500
    assert me(browser).status_code == 401
    rows, longest = audit_footprint(app)
    assert rows <= rows_before + 1
    assert longest < 1000, longest
    for detail in sso_failures(app, acme.org_id):
        reason = detail.get("reason", "")
        assert "\n" not in reason and "\r" not in reason and len(reason) < 600
    _check_logs(caplog.records)
    assert seconds < yardstick * 10


@pytest.fixture
def limited_app(database_url: str, backend: str) -> Iterator[Flask]:
    with sample_app_on(
        database_url,
        backend,
        OKTA_SCIM_SSO_FAILURE_LIMIT="5/minute",
        OKTA_SCIM_SSO_ADDRESS_FAILURE_LIMIT="3/minute",
    ) as app:
        yield app


def _junk(app: Flask, acme: Tenant, address: str) -> t.Any:
    return app.test_client().post(
        f"{app.config['OKTA_SCIM_BASE_URL']}/users/sign-in/sso/okta/{acme.integration_id}/acs",
        data={"SAMLResponse": encode("<junk/>" + FORGED)},
        environ_base={"REMOTE_ADDR": address},
    )


def test_an_address_past_its_budget_gets_429_and_writes_nothing(
    limited_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    acme = make_tenant(limited_app, "Acme", IDP)
    caplog.set_level(logging.WARNING)
    statuses = [_junk(limited_app, acme, "198.51.100.1").status_code for _ in range(30)]
    assert statuses[:3] == [400, 400, 400] and set(statuses[3:]) == {429}
    assert len(sso_failures(limited_app, acme.org_id)) == 3
    summaries = [r for r in caplog.records if "over budget" in r.getMessage()]
    assert len(summaries) == 1
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 3
    _check_logs(caplog.records)
    # Its good sign-in waits too; another address's does not.
    blocked = limited_app.test_client().post(
        f"{limited_app.config['OKTA_SCIM_BASE_URL']}/users/sign-in/sso/okta/{acme.integration_id}/acs",
        data={"SAMLResponse": encode(acme.response(VICTIM))},
        environ_base={"REMOTE_ADDR": "198.51.100.1"},
    )
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert good_sign_in_seconds(limited_app, acme) > 0


def test_a_connection_past_its_budget_stops_auditing_but_still_signs_people_in(
    limited_app: Flask,
) -> None:
    acme = make_tenant(limited_app, "Acme", IDP)
    statuses = [_junk(limited_app, acme, f"203.0.113.{i}").status_code for i in range(20)]
    assert statuses.count(400) == 5 and statuses.count(429) == 15
    assert len(sso_failures(limited_app, acme.org_id)) == 5
    good_sign_in_seconds(limited_app, acme)  # an unauthenticated flood locks nobody out
    assert len(sso_failures(limited_app, acme.org_id)) == 5
