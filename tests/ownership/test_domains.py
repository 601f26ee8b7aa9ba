"""Verified domains through the command line, against a real (loopback) DNS server.

``flask okta-scim domain add|verify|list|remove|recheck`` and ``team add-domain``: the TXT
challenge, what a failed check says and records, operator verification (audited), one
organization per verified domain (and the takeover once the holder's record is gone), and
the periodic recheck that drops a domain whose record disappeared but not one whose DNS
server merely did not answer.
"""

from __future__ import annotations

import json
import time

from flask import Flask

from sample_app.models import okta
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.dns_server import LoopbackDNS
from tests.ownership.support import A_IDP
from tests.ownership.support import B_IDP
from tests.ownership.support import DNS_TIMEOUT
from tests.ownership.support import account_state
from tests.ownership.support import audit_entries
from tests.ownership.support import claim
from tests.ownership.support import domain_list
from tests.ownership.support import has_password
from tests.ownership.support import make_org
from tests.ownership.support import manager_of
from tests.ownership.support import password_login
from tests.ownership.support import who

RECORD = "_okta-scim-challenge.alpha.example"
VALUE_PREFIX = "okta-scim-domain-verification="


def org(app: Flask, name: str) -> str:
    return okta_cli_ok(app, "org", "create", name).strip()


def entry(app: Flask, org_id: str, domain: str) -> dict:
    (found,) = [d for d in domain_list(app, org_id) if d["domain"] == domain]
    return found


# -- add ------------------------------------------------------------------------------------


def test_add_prints_the_record_name_then_its_value(app):
    alpha = org(app, "Alpha")
    result = okta_cli(app, "domain", "add", alpha, "Alpha.Example")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    name, value = lines
    assert name == RECORD  # normalised: lower case
    assert value.startswith(VALUE_PREFIX) and len(value) > len(VALUE_PREFIX) + 20
    # The record is the claim's own, and claiming again prints the same one.
    with app.app_context():
        d = okta.directory()
        record = d.domain_record(d.get_domain(d.get_organization(alpha), "alpha.example"))
    assert (record.name, record.value) == (name, value)
    assert claim(app, alpha, "alpha.example") == (name, value)
    # Another organization gets its own challenge for the same name.
    other_name, other_value = claim(app, org(app, "Bravo"), "alpha.example")
    assert other_name == name and other_value != value
    assert entry(app, alpha, "alpha.example")["verified"] is False


# -- verify ---------------------------------------------------------------------------------


def test_verify_succeeds_once_the_record_is_published(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    name, value = claim(app, alpha, "alpha.example")
    assert okta_cli(app, "domain", "verify", alpha, "alpha.example").exit_code != 0
    dns_server.set_txt(name, "v=spf1 -all", value)  # among other TXT records
    result = okta_cli(app, "domain", "verify", alpha, "alpha.example")
    assert result.exit_code == 0, result.stderr
    assert (RECORD, "TXT", "udp") in dns_server.queries
    got = entry(app, alpha, "alpha.example")
    assert got["verified"] is True and got["verified_by"] == "dns"
    assert got["verified_at"] and got["last_error"] is None
    with app.app_context():
        assert okta.directory().verified_domain_owner("alpha.example") == int(alpha)


def test_verify_of_an_absent_record_fails_with_the_reason(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    claim(app, alpha, "alpha.example")
    result = okta_cli(app, "domain", "verify", alpha, "alpha.example")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert f"No TXT record was found at {RECORD}" in result.stderr
    got = entry(app, alpha, "alpha.example")
    assert got["verified"] is False and got["verified_at"] is None
    assert got["last_error"] and f"No TXT record was found at {RECORD}" in got["last_error"]
    (failure,) = [
        e for e in audit_entries(app, alpha, "--kind", "domain.verify") if e["outcome"] != "success"
    ]
    assert failure["outcome"] == "failure" and failure["detail"]["kind"] == "absent"
    assert failure["target"] == "domain:alpha.example"


def test_verify_of_a_wrong_value_names_what_was_found(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    name, value = claim(app, alpha, "alpha.example")
    dns_server.set_txt(name, VALUE_PREFIX + "somebody-elses-challenge")
    result = okta_cli(app, "domain", "verify", alpha, "alpha.example")
    assert result.exit_code != 0
    assert "none has the expected value" in result.stderr
    assert "somebody-elses-challenge" in result.stderr
    assert value not in result.stderr  # the expected value is not echoed as "found"
    assert entry(app, alpha, "alpha.example")["verified"] is False


def test_verify_against_a_silent_server_times_out_in_bounded_time(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    name, value = claim(app, alpha, "alpha.example")
    dns_server.set_txt(name, value)
    dns_server.mode = "silent"
    started = time.monotonic()
    result = okta_cli(app, "domain", "verify", alpha, "alpha.example")
    elapsed = time.monotonic() - started
    assert result.exit_code != 0
    assert f"got no answer within {DNS_TIMEOUT:g} seconds" in result.stderr
    assert elapsed < DNS_TIMEOUT + 2.5, elapsed
    got = entry(app, alpha, "alpha.example")
    assert got["verified"] is False and "no answer" in got["last_error"]
    (failure,) = [
        e for e in audit_entries(app, alpha, "--kind", "domain") if e["outcome"] == "failure"
    ]
    assert failure["detail"]["kind"] == "timeout"
    # Once the server answers again, the same claim verifies.
    dns_server.mode = "answer"
    assert okta_cli(app, "domain", "verify", alpha, "alpha.example").exit_code == 0
    assert entry(app, alpha, "alpha.example")["last_error"] is None


def test_verify_of_a_domain_never_added_is_refused(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    result = okta_cli(app, "domain", "verify", alpha, "alpha.example")
    assert result.exit_code != 0 and "alpha.example" in result.stderr
    assert domain_list(app, alpha) == []
    assert dns_server.queries == []


def test_by_operator_verifies_without_dns_and_is_audited(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    result = okta_cli(app, "domain", "verify", alpha, "alpha.example", "--by-operator")
    assert result.exit_code == 0, result.stderr
    assert dns_server.queries == []  # no DNS asked
    got = entry(app, alpha, "alpha.example")
    assert got["verified"] is True and got["verified_by"] == "operator"
    verified = [
        e for e in audit_entries(app, alpha, "--kind", "domain.verify") if e["outcome"] == "success"
    ]
    assert len(verified) == 1, verified
    assert verified[0]["actor"] == "cli:operator"
    assert verified[0]["detail"]["method"] == "operator"
    assert verified[0]["target"] == "domain:alpha.example"


def test_the_operator_cannot_take_a_domain_another_org_holds(app, dns_server: LoopbackDNS):
    alpha, bravo = org(app, "Alpha"), org(app, "Bravo")
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example", "--by-operator")
    result = okta_cli(app, "domain", "verify", bravo, "alpha.example", "--by-operator")
    assert result.exit_code != 0 and "another organization" in result.stderr
    assert entry(app, alpha, "alpha.example")["verified"] is True
    assert all(not d["verified"] for d in domain_list(app, bravo))


def test_a_domain_the_operator_verified_is_not_taken_over_by_dns(app, dns_server: LoopbackDNS):
    """The operator's word stands: another organization's DNS record does not move it."""
    alpha, bravo = org(app, "Alpha"), org(app, "Bravo")
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example", "--by-operator")
    name, value = claim(app, bravo, "alpha.example")
    dns_server.set_txt(name, value)
    result = okta_cli(app, "domain", "verify", bravo, "alpha.example")
    assert result.exit_code != 0 and "operator" in result.stderr
    assert entry(app, alpha, "alpha.example")["verified"] is True
    assert entry(app, bravo, "alpha.example")["verified"] is False


# -- one organization per domain ------------------------------------------------------------


def test_one_org_per_domain_and_the_takeover_once_the_holders_record_is_gone(
    app, dns_server: LoopbackDNS
):
    a = make_org(app, "Alpha", A_IDP)
    b = make_org(app, "Bravo", B_IDP)
    alpha, bravo = str(a.org_id), str(b.org_id)
    a_name, a_value = claim(app, alpha, "alpha.example")
    dns_server.set_txt(a_name, a_value)
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example")
    # A's person, with the password A's SCIM set (A manages: it verified the domain).
    assert (
        a.scim.post("/Users", user_body("ann@alpha.example", password="alpha-pw")).status_code
        == 201
    )
    assert has_password(app, "ann@alpha.example", "alpha-pw")
    browser = app.test_client()
    assert password_login(browser, "ann@alpha.example", "alpha-pw").status_code == 302

    # B proves the domain too, while A's record is still there: refused.
    b_name, b_value = claim(app, bravo, "alpha.example")
    dns_server.set_txt(a_name, a_value, b_value)
    result = okta_cli(app, "domain", "verify", bravo, "alpha.example")
    assert result.exit_code != 0
    assert "verified by another organization" in result.stderr
    assert entry(app, alpha, "alpha.example")["verified"] is True
    assert entry(app, bravo, "alpha.example")["verified"] is False
    assert has_password(app, "ann@alpha.example", "alpha-pw")
    assert manager_of(app, "ann@alpha.example") == a.org_id
    assert who(browser) is not None

    # A's record is gone (the domain changed hands): B takes it over.
    dns_server.set_txt(b_name, b_value)
    result = okta_cli(app, "domain", "verify", bravo, "alpha.example")
    assert result.exit_code == 0, result.stderr
    assert entry(app, alpha, "alpha.example")["verified"] is False
    assert entry(app, bravo, "alpha.example")["verified"] is True
    assert manager_of(app, "ann@alpha.example") == b.org_id
    # The password A set went with A's management, and so did the session it opened.
    state = account_state(app, "ann@alpha.example")
    assert state is not None and state.password_hash is None
    assert who(browser) is None
    assert password_login(app.test_client(), "ann@alpha.example", "alpha-pw").status_code == 401
    # A's log says it lost the domain; the account's change is in the operator's log only.
    lost = [e for e in audit_entries(app, alpha) if e["action"] == "domain.unverified"]
    assert [e["detail"]["reason"] for e in lost] == ["domain_lost"]


def test_team_pre_approval_of_a_domain_another_org_verified_is_refused(
    app, dns_server: LoopbackDNS
):
    alpha, bravo = org(app, "Alpha"), org(app, "Bravo")
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example", "--by-operator")
    team = okta_cli_ok(app, "team", "create", bravo, "Ops").strip()
    result = okta_cli(app, "team", "add-domain", bravo, team, "alpha.example")
    assert result.exit_code != 0
    assert "verified by another organization" in result.stderr
    (listed,) = json.loads(okta_cli_ok(app, "team", "list", bravo))
    assert listed["domains"] == []
    # Its own verified domain, and a domain nobody verified, are fine.
    own = okta_cli_ok(app, "team", "create", alpha, "Ops").strip()
    okta_cli_ok(app, "team", "add-domain", alpha, own, "alpha.example")
    okta_cli_ok(app, "team", "add-domain", bravo, team, "bravo.example")
    (listed,) = json.loads(okta_cli_ok(app, "team", "list", bravo))
    assert listed["domains"] == ["bravo.example"]


# -- recheck --------------------------------------------------------------------------------


def test_recheck_unverifies_a_domain_whose_record_disappeared(app, dns_server: LoopbackDNS):
    a = make_org(app, "Alpha", A_IDP)
    b = make_org(app, "Bravo", B_IDP)
    alpha = str(a.org_id)
    name, value = claim(app, alpha, "alpha.example")
    dns_server.set_txt(name, value)
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example")
    # B's SCIM creates ben in A's verified domain: A manages him, B's password is not set.
    # After the recheck nobody verifies the domain, and B (creator and member) manages him.
    ben = user_body("ben@alpha.example", password="bravo-pw")
    assert b.scim.post("/Users", ben).status_code == 201
    assert manager_of(app, "ben@alpha.example") == a.org_id
    assert not has_password(app, "ben@alpha.example", "bravo-pw")

    result = okta_cli(app, "domain", "recheck")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"domain": "alpha.example", "verified": True, "kind": None, "reason": None}
    ]

    dns_server.remove(name)
    result = okta_cli(app, "domain", "recheck")
    assert result.exit_code == 1
    (report,) = json.loads(result.stdout)
    assert report["domain"] == "alpha.example" and report["verified"] is False
    assert report["kind"] == "absent" and RECORD in report["reason"]
    got = entry(app, alpha, "alpha.example")
    assert got["verified"] is False and got["verified_at"] is None and got["last_error"]
    assert manager_of(app, "ben@alpha.example") == b.org_id
    # Nothing is left to recheck.
    result = okta_cli(app, "domain", "recheck")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_recheck_keeps_a_domain_when_dns_does_not_answer(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    name, value = claim(app, alpha, "alpha.example")
    dns_server.set_txt(name, value)
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example")
    for mode, kind in (("silent", "timeout"), ("servfail", "error")):
        dns_server.mode = mode
        started = time.monotonic()
        result = okta_cli(app, "domain", "recheck", alpha)
        assert time.monotonic() - started < DNS_TIMEOUT + 2.5
        assert result.exit_code == 0, (mode, result.stdout, result.stderr)
        (report,) = json.loads(result.stdout)
        assert report["verified"] is True and report["kind"] == kind, report
        got = entry(app, alpha, "alpha.example")
        assert got["verified"] is True and got["last_error"], got
    dns_server.mode = "answer"
    assert okta_cli(app, "domain", "recheck", alpha).exit_code == 0
    assert entry(app, alpha, "alpha.example")["last_error"] is None


def test_recheck_of_one_org_checks_only_its_domains(app, dns_server: LoopbackDNS):
    alpha, bravo = org(app, "Alpha"), org(app, "Bravo")
    for ref, domain in ((alpha, "alpha.example"), (bravo, "bravo.example")):
        name, value = claim(app, ref, domain)
        dns_server.set_txt(name, value)
        okta_cli_ok(app, "domain", "verify", ref, domain)
    dns_server.remove("_okta-scim-challenge.bravo.example")
    result = okta_cli(app, "domain", "recheck", alpha)
    assert result.exit_code == 0
    assert [r["domain"] for r in json.loads(result.stdout)] == ["alpha.example"]
    assert entry(app, bravo, "bravo.example")["verified"] is True
    assert okta_cli(app, "domain", "recheck", bravo).exit_code == 1
    assert entry(app, bravo, "bravo.example")["verified"] is False


def test_recheck_leaves_operator_verified_domains_alone(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example", "--by-operator")
    result = okta_cli(app, "domain", "recheck")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert dns_server.queries == []
    assert entry(app, alpha, "alpha.example")["verified"] is True


# -- list and remove ------------------------------------------------------------------------


def test_domain_list_is_json_with_each_claims_state(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    assert domain_list(app, alpha) == []
    name, value = claim(app, alpha, "zeta.example")
    claim(app, alpha, "alpha.example")
    dns_server.set_txt(name, value)
    okta_cli_ok(app, "domain", "verify", alpha, "zeta.example")
    listed = domain_list(app, alpha)
    assert [d["domain"] for d in listed] == ["alpha.example", "zeta.example"]
    for item in listed:
        assert set(item) >= {"domain", "verified", "verified_at", "verified_by", "last_error"}
        assert isinstance(item["verified"], bool)
    pending, verified = listed
    assert pending["verified"] is False and pending["verified_at"] is None
    assert pending["verified_by"] is None
    assert verified["verified"] is True and verified["verified_by"] == "dns"
    assert isinstance(verified["verified_at"], str) and verified["verified_at"][:2] == "20"
    assert okta_cli(app, "domain", "list", "no such org").exit_code != 0


def test_remove_withdraws_the_claim_and_the_management(app, dns_server: LoopbackDNS):
    a = make_org(app, "Alpha", A_IDP)
    b = make_org(app, "Bravo", B_IDP)
    alpha = str(a.org_id)
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example", "--by-operator")
    # B's SCIM created the account; A attached it, manages it through the domain, and
    # sets its password.
    assert b.scim.post("/Users", user_body("cy@alpha.example")).status_code == 201
    created = a.scim.post("/Users", user_body("cy@alpha.example"))
    assert created.status_code == 201
    reset = patch_body({"op": "replace", "path": "password", "value": "a-pw"})
    assert a.scim.patch(f"/Users/{created.get_json()['id']}", reset).status_code == 200
    assert manager_of(app, "cy@alpha.example") == a.org_id
    assert has_password(app, "cy@alpha.example", "a-pw")
    okta_cli_ok(app, "domain", "remove", alpha, "alpha.example")
    assert domain_list(app, alpha) == []
    # B created the account, so once A gives the domain up B manages it again; A's
    # password went with A's management.
    assert manager_of(app, "cy@alpha.example") == b.org_id
    assert not has_password(app, "cy@alpha.example", "a-pw")
    assert okta_cli(app, "domain", "remove", alpha, "alpha.example").exit_code != 0
    # Now B may pre-approve it for a team.
    team = okta_cli_ok(app, "team", "create", str(b.org_id), "More").strip()
    okta_cli_ok(app, "team", "add-domain", str(b.org_id), team, "alpha.example")


# -- audit ----------------------------------------------------------------------------------


def test_audit_runs_under_the_cli_runner_like_the_other_commands(app):
    """``flask okta-scim audit`` is a plain Click command: the ``flask`` command pushes an
    application context for it, but Click's test runner (``app.test_cli_runner()``, how
    hosts test their CLI) does not, unlike for every ``AppGroup`` command next to it."""
    alpha = org(app, "Alpha")  # 'org create' runs fine this way
    result = app.test_cli_runner().invoke(args=["okta-scim", "audit", alpha, "--json"])
    assert result.exit_code == 0, repr(result.exception)
    assert json.loads(result.stdout.splitlines()[0])["action"] == "organization.create"


def test_audit_filters_by_kind_and_time(app, dns_server: LoopbackDNS):
    alpha = org(app, "Alpha")
    claim(app, alpha, "alpha.example")
    okta_cli(app, "domain", "verify", alpha, "alpha.example")  # fails: no record
    okta_cli_ok(app, "domain", "verify", alpha, "alpha.example", "--by-operator")
    everything = audit_entries(app, alpha)
    assert [e["action"] for e in everything] == [
        "organization.create",
        "domain.add",
        "domain.verify",
        "domain.verify",
    ]
    assert [e["outcome"] for e in everything[2:]] == ["failure", "success"]
    assert [e["action"] for e in audit_entries(app, alpha, "--kind", "domain")] == [
        "domain.add",
        "domain.verify",
        "domain.verify",
    ]
    assert audit_entries(app, alpha, "--kind", "domain.add")[0]["target"] == "domain:alpha.example"
    assert audit_entries(app, alpha, "--kind", "dom") == []  # a family is a whole prefix
    assert audit_entries(app, alpha, "--since", "2999-01-01T00:00:00Z") == []
    assert len(audit_entries(app, alpha, "--since", everything[0]["at"])) == 4
    with app.app_context():
        assert okta_cli(app, "audit", alpha, "--since", "yesterday").exit_code != 0
        text = okta_cli_ok(app, "audit", alpha)  # without --json: one line per entry
    assert len(text.splitlines()) == 4 and "domain.verify" in text
