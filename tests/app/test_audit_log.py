"""The audit log as a product (issue 14): what changed, before and after; no secret in it or in
the application's log, whatever the flow; retention and its purge; bounded entries for what an
unauthenticated request can make it write."""

from __future__ import annotations

import json
import logging
import typing as t
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from flask_okta_scim.sqla.mixins import utcnow
from flask_okta_scim.testing.organizations import ReadyOrganization
from flask_okta_scim.testing.organizations import ready_organization
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.conftest import ScimClient
from tests.conftest import okta_cli_ok
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.saml_idp import TestIdP
from tests.saml_idp import encode
from tests.saml_idp import post_acs

DOMAIN = "acme.example"


@pytest.fixture
def acme(app: Flask) -> ReadyOrganization:
    return ready_organization(app, "Acme", TestIdP(), domains=[DOMAIN], jit_team="Everyone")


def entries(app: Flask, org: ReadyOrganization, kind: str | None = None) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in okta_cli_ok(app, *audit_args(org, kind)).splitlines()]


def audit_args(org: ReadyOrganization, kind: str | None) -> list[str]:
    return ["audit", str(org.id), "--json", *(["--kind", kind] if kind else [])]


def everything_written(app: Flask, caplog: pytest.LogCaptureFixture) -> str:
    """The whole audit table and every log record, as one text to search."""
    with app.app_context():
        audit = okta.models.audit
        rows = db.session.scalars(select(audit)).all()
        table = "\n".join(
            json.dumps(
                [r.actor, r.action, r.target_type, r.target_id, r.outcome, r.detail], default=str
            )
            for r in rows
        )
    logs = "\n".join(f"{r.getMessage()} {r.__dict__} {r.exc_text or ''}" for r in caplog.records)
    return table + "\n" + logs


def test_a_profile_change_is_recorded_with_what_it_was_and_what_it_became(app, acme):
    scim = ScimClient(app, acme.token)
    ann = scim.post("/Users", user_body(f"ann@{DOMAIN}", title="Engineer")).get_json(force=True)
    body = scim.get(f"/Users/{ann['id']}").get_json(force=True)
    body["title"] = "Staff Engineer"
    body["displayName"] = "Ann Lee"
    body["password"] = "Never-In-The-Log-1"
    assert scim.put(f"/Users/{ann['id']}", body).status_code == 200
    (update,) = [e for e in entries(app, acme, "user.update") if e["outcome"] == "success"]
    changed = update["detail"]["changed"]
    assert changed["title"] == {"before": "Engineer", "after": "Staff Engineer"}
    assert changed["displayName"] == {"before": "Ann Tester", "after": "Ann Lee"}
    assert "password" not in changed and "password" in update["detail"]["fields"]
    assert update["actor"].startswith("scim:token:")
    # A long value is recorded by its length only: one request cannot make an entry large.
    body = scim.get(f"/Users/{ann['id']}").get_json(force=True)
    body["title"] = "x" * 5000
    scim.put(f"/Users/{ann['id']}", body)
    last = [e for e in entries(app, acme, "user.update") if e["outcome"] == "success"][-1]
    assert last["detail"]["changed"]["title"]["after"] == "(5002 characters)"
    assert len(json.dumps(last)) < 2000


def test_no_token_password_or_saml_response_is_ever_written(app, acme, caplog):
    caplog.set_level(logging.DEBUG, logger="flask_okta_scim")
    caplog.set_level(logging.DEBUG, logger="flask.app")
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    secrets: list[str] = [acme.token or ""]
    scim = ScimClient(app, acme.token)
    # Provisioning with passwords: create, PATCH, PUT; a wrong token.
    created = scim.post("/Users", user_body(f"ann@{DOMAIN}", password="Create-Secret-1"))
    secrets.append("Create-Secret-1")
    scim_id = created.get_json(force=True)["id"]
    scim.patch(
        f"/Users/{scim_id}",
        patch_body({"op": "replace", "value": {"password": "Patch-Secret-2"}}),
    )
    secrets.append("Patch-Secret-2")
    body = scim.get(f"/Users/{scim_id}").get_json(force=True)
    body["password"] = "Put-Secret-3"
    scim.put(f"/Users/{scim_id}", body)
    secrets.append("Put-Secret-3")
    wrong = "Wrong-Token-Secret-4-" + "x" * 20
    assert ScimClient(app, wrong).get("/Users").status_code == 401
    secrets.append(wrong)
    # Token rotation; the new token used.
    rotated = okta_cli_ok(app, "scim", "rotate-token", str(acme.id)).strip()
    assert ScimClient(app, rotated).get("/Users").status_code == 200
    secrets.append(rotated)
    # A good sign-in and a tampered one.
    browser = app.test_client()
    xml = acme.idp.for_connection(acme.integration_id, f"ann@{DOMAIN}", base_url=BASE_URL)
    assert post_acs(browser, acme.integration_id, xml).status_code == 302
    secrets.append(encode(xml)[:60])
    tampered = xml.replace(f"ann@{DOMAIN}", f"mallory@{DOMAIN}")
    assert post_acs(app.test_client(), acme.integration_id, tampered).status_code == 403
    secrets.append(encode(tampered)[:60])
    # The signature value of the good response, whole.
    signature = xml.split("<ds:SignatureValue>")[1].split("</ds:SignatureValue>")[0].strip()
    secrets.append(signature[:40])
    with app.app_context():
        account = okta.directory().find_account(f"ann@{DOMAIN}")
        secrets.append(account.password_hash)
    written = everything_written(app, caplog)
    assert "sso.login" in written and "user.update" in written  # the search has material
    for secret in secrets:
        assert secret and secret not in written, secret[:20]


def test_an_unauthenticated_sign_in_writes_one_bounded_entry_at_most(app, acme):
    garbage = encode("<samlp:Response>" + "A" * 200_000 + "</samlp:Response>")
    before = len(entries(app, acme, "sso"))
    answer = app.test_client().post(
        f"/users/sign-in/sso/okta/{acme.integration_id}/acs", data={"SAMLResponse": garbage}
    )
    assert answer.status_code in (400, 403, 413)
    written = entries(app, acme, "sso")[before:]
    assert len(written) <= 1
    assert all(len(json.dumps(e)) < 2000 for e in written)
    # An unknown connection writes nothing to anyone's log.
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(okta.models.audit))
    app.test_client().post("/users/sign-in/sso/okta/nope/acs", data={"SAMLResponse": garbage})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(okta.models.audit)) == count


def age_entries(app: Flask, org: ReadyOrganization, days: int, count: int) -> None:
    """Make ``count`` entries of ``org`` as old as ``days``."""
    with app.app_context():
        audit = okta.models.audit
        for n in range(count):
            db.session.add(
                audit(
                    organization_id=org.id,
                    actor="test",
                    action="test.old",
                    outcome="success",
                    detail={"n": n},
                    created_at=utcnow() - timedelta(days=days),
                )
            )
        db.session.commit()


@pytest.mark.app_config(OKTA_SCIM_AUDIT_RETENTION_DAYS=30)
def test_purge_deletes_entries_past_the_retention_and_keeps_the_rest(app, acme):
    age_entries(app, acme, 45, 7)
    age_entries(app, acme, 10, 3)
    kept_before = len(entries(app, acme))
    out = okta_cli_ok(app, "purge")
    summary = [json.loads(line) for line in out.splitlines() if "audit_entries_deleted" in line]
    assert summary[0]["audit_entries_deleted"] == 7
    left = entries(app, acme)
    assert len(left) == kept_before - 7
    assert sorted(e["detail"]["n"] for e in left if e["action"] == "test.old") == [0, 1, 2]
    again = okta_cli_ok(app, "purge")
    assert '"audit_entries_deleted": 0' in again


@pytest.mark.app_config(OKTA_SCIM_AUDIT_RETENTION_DAYS=0)
def test_a_retention_of_zero_keeps_everything(app, acme):
    age_entries(app, acme, 4000, 2)
    out = okta_cli_ok(app, "purge")
    assert "audit_entries_deleted" not in out
    assert len([e for e in entries(app, acme) if e["action"] == "test.old"]) == 2


def test_the_purge_goes_in_batches(app, acme):
    age_entries(app, acme, 400, 25)
    with app.app_context():
        directory = okta.directory()
        cutoff = utcnow() - timedelta(days=365)
        assert directory.purge_audit(cutoff, batch=10) == 10
        db.session.commit()
        assert directory.purge_audit(cutoff, batch=10) == 10
        assert directory.purge_audit(cutoff, batch=10) == 5
        assert directory.purge_audit(cutoff, batch=10) == 0
        db.session.commit()
