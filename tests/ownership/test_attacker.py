"""The attacker organization: what organization B (its own Okta, its own SCIM token, its own
pre-approved domains) can do to the people of organization A.

A is the victim: its Okta (the default test key), its SCIM token, and two people: Ann,
created by A's SCIM with a password A set, and Sam, who made his own account with his own
password and joined A. For each attack: nothing changed for A (passwords still work with
A's values, emails and memberships unchanged, A's people's sessions unaffected), and B
learnt nothing about accounts outside B (no oracle in B's answers or B's audit log).

Known and accepted by design (not asserted against here): for emails in a domain nobody
verified, B's JIT of an existing account is refused while a new one is admitted, and B's
later password PATCH of an attached existing account is audited ``not_applied``.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass

import pytest
from flask import Flask
from flask import abort
from flask import request
from flask_login import login_user
from sqlalchemy import func
from sqlalchemy import select

from flask_okta_scim import Conflict
from sample_app.models import Monitor
from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.ownership.support import A_IDP
from tests.ownership.support import B_IDP
from tests.ownership.support import Org
from tests.ownership.support import account_state
from tests.ownership.support import acts_in
from tests.ownership.support import add_monitor
from tests.ownership.support import audit_entries
from tests.ownership.support import has_password
from tests.ownership.support import join_team
from tests.ownership.support import make_org
from tests.ownership.support import manager_of
from tests.ownership.support import password_login
from tests.ownership.support import signed_up
from tests.ownership.support import verify_by_operator
from tests.ownership.support import who

ANN, ANN_PW = "ann@alpha.example", "ann-password-set-by-alpha"
SAM, SAM_PW = "sam@alpha.example", "sams-own-password"
B_PW = "chosen-by-bravo"
OWN_PASSWORDS = {ANN: ANN_PW, SAM: SAM_PW}


@dataclass
class Cast:
    a: Org
    b: Org
    #: Ann's SCIM id in A.
    ann_uid: str


@pytest.fixture
def cast(app: Flask) -> Cast:
    a = make_org(app, "Alpha", A_IDP, domains=("alpha.example",))
    b = make_org(app, "Bravo", B_IDP, domains=("bravo.example",))
    created = a.scim.post("/Users", user_body(ANN, password=ANN_PW))
    assert created.status_code == 201, created.get_data(as_text=True)
    join_team(app, a, ANN)
    signed_up(app, a, SAM, SAM_PW)
    assert has_password(app, ANN, ANN_PW) and has_password(app, SAM, SAM_PW)
    assert manager_of(app, ANN) == a.org_id
    return Cast(a, b, created.get_json()["id"])


@pytest.fixture(params=["unverified", "verified"])
def verified(request: pytest.FixtureRequest, app: Flask, cast: Cast) -> bool:
    """Whether A verified alpha.example (by the operator's word) before the attack."""
    if request.param == "verified":
        verify_by_operator(app, cast.a, "alpha.example")
    return bool(request.param == "verified")


# -- helpers --------------------------------------------------------------------------------


def replace(path: str, value: t.Any) -> dict[str, t.Any]:
    return {"op": "replace", "path": path, "value": value}


def shape(value: t.Any) -> t.Any:
    """The structure of a JSON value: keys and types, not values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def monitors(app: Flask) -> int:
    with app.app_context():
        return int(okta.db.session.scalar(select(func.count()).select_from(Monitor)))


def assert_a_untouched(app: Flask, cast: Cast, before: dict[str, t.Any]) -> None:
    """A's people keep their accounts, emails, A memberships, and A's passwords sign them in."""
    for email, state in before.items():
        now = account_state(app, email)
        assert now is not None, email
        assert (now.id, now.email, now.display_name) == (state.id, state.email, state.display_name)
        assert now.password_hash == state.password_hash, f"{email}'s password changed"
        assert "Alpha" in now.organizations and "Alpha Ops" in now.teams, now
        browser = app.test_client()
        assert password_login(browser, email, OWN_PASSWORDS[email]).status_code == 302
        assert "Alpha" in acts_in(browser)
        assert add_monitor(browser, cast.a, name=f"by {email}") == 302


def snapshot(app: Flask) -> dict[str, t.Any]:
    return {email: account_state(app, email) for email in (ANN, SAM)}


def a_sso_session(app: Flask, cast: Cast, email: str) -> t.Any:
    browser = app.test_client()
    assert cast.a.sso(browser, email).status_code == 302
    assert acts_in(browser) == ["Alpha"]
    return browser


# -- B's SCIM creates A's person's email, with a password B chose ---------------------------


@pytest.mark.parametrize("person", [ANN, SAM])
def test_b_creating_a_persons_email_with_its_password_signs_nobody_in(app, cast, verified, person):
    """Ann (A's SCIM created her) or Sam (own password); alpha.example verified or not."""
    before = snapshot(app)
    session = a_sso_session(app, cast, person)

    created = cast.b.scim.post("/Users", user_body(person, password=B_PW))
    assert created.status_code == 201, created.get_data(as_text=True)

    attacker = app.test_client()
    assert password_login(attacker, person, B_PW).status_code == 401
    assert who(attacker) is None
    assert not has_password(app, person, B_PW)
    # B attached the account (by design) and changed nothing else.
    assert account_state(app, person).organizations == ("Alpha", "Bravo")
    assert acts_in(session) == ["Alpha"]  # A's session of the person goes on
    assert add_monitor(session, cast.a) == 302
    assert_a_untouched(app, cast, before)


def test_an_account_b_created_first_gives_b_password_sessions_that_never_act_in_a(app, cast):
    """B's SCIM created the account (domain nobody verified) with B's password; A's SCIM
    then provisioned the same person. B's password signs in, but only into B."""
    email = "new@alpha.example"
    assert cast.b.scim.post("/Users", user_body(email, password=B_PW)).status_code == 201
    assert cast.a.scim.post("/Users", user_body(email, password="a-pw")).status_code == 201
    join_team(app, cast.a, email)
    assert not has_password(app, email, "a-pw")  # an attach never sets the password

    attacker = app.test_client()
    assert password_login(attacker, email, B_PW).status_code == 302
    got = who(attacker)
    assert got is not None and got["sso_organization"] is None
    assert [o["name"] for o in got["organizations"]] == ["Bravo"]
    before = monitors(app)
    assert add_monitor(attacker, cast.a) == 403
    assert monitors(app) == before
    page = attacker.get(f"{BASE_URL}/").get_data(as_text=True)
    assert "Alpha" not in page

    # The person through A's Okta acts in A.
    person = a_sso_session(app, cast, email)
    assert add_monitor(person, cast.a) == 302

    # Once A verifies its domain, B's password and B's sessions are gone.
    verify_by_operator(app, cast.a, "alpha.example")
    assert who(attacker) is None
    assert password_login(app.test_client(), email, B_PW).status_code == 401
    assert manager_of(app, email) == cast.a.org_id


@pytest.mark.account_removal("delete")
def test_b_password_does_not_reach_a_through_a_reactivation(app, cast, verified):
    """A deactivates Ann (her account is deleted), B creates her email with B's password,
    A reactivates her on the same SCIM id: B's password must not act in A."""
    a, b = cast.a, cast.b
    r = a.scim.patch(f"/Users/{cast.ann_uid}", patch_body(replace("active", False)))
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert account_state(app, ANN) is None  # in no other organization: deleted

    assert b.scim.post("/Users", user_body(ANN, password=B_PW)).status_code == 201
    r = a.scim.patch(f"/Users/{cast.ann_uid}", patch_body(replace("active", True)))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["id"] == cast.ann_uid and r.get_json()["active"] is True
    join_team(app, a, ANN)
    assert account_state(app, ANN).organizations == ("Alpha", "Bravo")

    attacker = app.test_client()
    signed_in = password_login(attacker, ANN, B_PW).status_code
    if verified:
        assert signed_in == 401  # A manages every alpha.example account: B set nothing
    else:
        assert signed_in == 302  # B's own account (B created it), vouched for by B only
    assert "Alpha" not in acts_in(attacker)
    count = monitors(app)
    if signed_in == 302:
        assert add_monitor(attacker, a) == 403
        assert monitors(app) == count
    # Ann through A's Okta still acts in A.
    assert add_monitor(a_sso_session(app, cast, ANN), a) == 302


def test_b_cannot_enable_a_disabled_account_with_its_own_password(app, cast, verified):
    """A deactivates Ann (her account is kept, disabled), B creates her email with B's
    password: B's SCIM attaches the kept account and enables it, but B created nothing,
    so B's password is not stored; A's reactivation later finds the same account."""
    a, b = cast.a, cast.b
    kept = account_state(app, ANN)
    r = a.scim.patch(f"/Users/{cast.ann_uid}", patch_body(replace("active", False)))
    assert r.status_code == 200
    state = account_state(app, ANN)
    assert state is not None and state.id == kept.id
    assert state.disabled and state.organizations == ()
    # A's password goes with A's management: kept only while A holds the domain verified.
    assert (state.password_hash is None) is (not verified)

    assert b.scim.post("/Users", user_body(ANN, password=B_PW)).status_code == 201
    state = account_state(app, ANN)
    assert state.id == kept.id and not state.disabled and state.organizations == ("Bravo",)
    assert password_login(app.test_client(), ANN, B_PW).status_code == 401
    r = a.scim.patch(f"/Users/{cast.ann_uid}", patch_body(replace("active", True)))
    assert r.status_code == 200
    assert account_state(app, ANN).organizations == ("Alpha", "Bravo")
    assert account_state(app, ANN).id == kept.id


def test_b_cannot_set_the_password_of_an_account_in_no_organization(app, cast, verified):
    """Sam is removed from A by hand, his account kept (in no organization). B's SCIM
    attaches it and sets a password: not applied, audited so in B's log; Sam's stays."""
    a, b = cast.a, cast.b
    okta_cli_ok(app, "org", "remove-member", str(a.org_id), SAM)
    state = account_state(app, SAM)
    assert state is not None and state.organizations == ()

    created = b.scim.post("/Users", user_body(SAM, password=B_PW))
    assert created.status_code == 201
    uid = created.get_json()["id"]
    r = b.scim.patch(f"/Users/{uid}", patch_body(replace("password", "bravo-second-try")))
    assert r.status_code == 200, r.get_data(as_text=True)
    r = b.scim.put(f"/Users/{uid}", user_body(SAM, password="bravo-third-try"))
    assert r.status_code == 200, r.get_data(as_text=True)

    for wrong in (B_PW, "bravo-second-try", "bravo-third-try"):
        assert not has_password(app, SAM, wrong)
        assert password_login(app.test_client(), SAM, wrong).status_code == 401
    assert account_state(app, SAM).password_hash == state.password_hash
    assert password_login(app.test_client(), SAM, SAM_PW).status_code == 302

    refused = [e for e in audit_entries(app, b.org_id) if e["outcome"] == "not_applied"]
    assert [(e["action"], e["detail"]) for e in refused] == [
        ("user.update", {"reason": "not_managed", "fields": ["password"]}),
        ("user.update", {"reason": "not_managed", "fields": ["password"]}),
    ]
    assert refused[0]["target"] == f"identity:{uid}"
    assert not [e for e in audit_entries(app, a.org_id) if e["outcome"] == "not_applied"]


# -- B's Okta and B's teams -----------------------------------------------------------------


def test_b_cannot_pre_approve_a_verified_domain_and_its_okta_admits_nobody_there(app, cast):
    a, b = cast.a, cast.b
    with app.app_context(), okta.directory().atomic() as d:
        bravo = d.get_organization(b.org_id)
        early = d.create_team(bravo, "Early bird")
        d.add_team_domain(early, "alpha.example")  # allowed: nobody verified it yet
        late = d.create_team(bravo, "Late comer")
        late_id = late.id
    verify_by_operator(app, a, "alpha.example")
    with pytest.raises(Conflict), app.app_context(), okta.directory().atomic() as d:
        d.add_team_domain(d.get_team(d.get_organization(b.org_id), late_id), "alpha.example")
    result = okta_cli(app, "team", "add-domain", str(b.org_id), str(late_id), "alpha.example")
    assert result.exit_code != 0
    before = snapshot(app)

    for email in (ANN, SAM, "newbie@alpha.example"):
        browser = app.test_client()
        response = b.sso(browser, email)
        assert response.status_code == 403, (email, response.status_code)
        assert who(browser) is None
    assert account_state(app, "newbie@alpha.example") is None
    for email in (ANN, SAM):
        assert account_state(app, email).organizations == ("Alpha",)
    # B's Okta works for B's own domain: the refusals above are about alpha.example.
    browser = app.test_client()
    assert b.sso(browser, "bea@bravo.example").status_code == 302
    assert acts_in(browser) == ["Bravo"]
    assert_a_untouched(app, cast, before)


def test_b_okta_cannot_admit_a_persons_existing_account(app, cast, verified):
    """B pre-approved alpha.example before anyone verified it (or, verified: could not)."""
    b = cast.b
    if not verified:
        with app.app_context(), okta.directory().atomic() as d:
            bravo = d.get_organization(b.org_id)
            d.add_team_domain(d.create_team(bravo, "Poachers"), "alpha.example")
    before = snapshot(app)
    for email in (ANN, SAM):
        browser = app.test_client()
        assert b.sso(browser, email).status_code == 403
        assert who(browser) is None
        assert account_state(app, email).organizations == ("Alpha",)
    assert_a_untouched(app, cast, before)


# -- what B's SCIM may change of a shared account -------------------------------------------


def test_after_a_verified_only_a_changes_a_shared_persons_credentials(app, cast):
    a, b = cast.a, cast.b
    verify_by_operator(app, a, "alpha.example")
    attached = b.scim.post("/Users", user_body(ANN, password=B_PW))
    assert attached.status_code == 201
    bid = attached.get_json()["id"]
    assert account_state(app, ANN).organizations == ("Alpha", "Bravo")
    display_name = account_state(app, ANN).display_name

    # A's password reset and email change (into its verified domain) apply.
    r = a.scim.patch(f"/Users/{cast.ann_uid}", patch_body(replace("password", "alpha-new")))
    assert r.status_code == 200
    assert has_password(app, ANN, "alpha-new")
    renamed = "ann.new@alpha.example"
    r = a.scim.patch(
        f"/Users/{cast.ann_uid}",
        patch_body(
            replace("userName", renamed),
            replace("emails", [{"value": renamed, "primary": True, "type": "work"}]),
        ),
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert account_state(app, ANN) is None
    assert account_state(app, renamed).organizations == ("Alpha", "Bravo")
    assert password_login(app.test_client(), renamed, "alpha-new").status_code == 302

    # B's PATCH of password, display name and email: answered 200, applied to nothing.
    r = b.scim.patch(
        f"/Users/{bid}",
        patch_body(
            replace("password", "bravo-reset"),
            replace("displayName", "Evil Ann"),
            replace("userName", "ann@bravo.example"),
        ),
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["userName"] == "ann@bravo.example"  # the identity keeps what Okta sent
    state = account_state(app, renamed)
    assert (state.email, state.display_name) == (renamed, display_name)
    assert has_password(app, renamed, "alpha-new")
    assert not has_password(app, renamed, "bravo-reset")
    assert account_state(app, "ann@bravo.example") is None

    b_refused = [e for e in audit_entries(app, b.org_id) if e["outcome"] == "not_applied"]
    assert [e["detail"] for e in b_refused] == [
        {"reason": "not_managed", "fields": ["display_name", "email", "password"]}
    ]
    assert b_refused[0]["target"] == f"identity:{bid}"
    assert not [e for e in audit_entries(app, a.org_id) if e["outcome"] == "not_applied"]


def test_b_renaming_its_user_to_a_persons_email_reveals_nothing_and_changes_nothing(
    app, cast, verified
):
    b = cast.b
    before = snapshot(app)
    answers = {}
    for own, target in (("bea", ANN), ("bo", "ghost@alpha.example")):
        created = b.scim.post("/Users", user_body(f"{own}@bravo.example"))
        assert created.status_code == 201
        uid = created.get_json()["id"]
        mark = len(audit_entries(app, b.org_id))
        r = b.scim.patch(
            f"/Users/{uid}",
            patch_body(
                replace("userName", target),
                replace("emails", [{"value": target, "primary": True, "type": "work"}]),
            ),
        )
        # The entries name what b sent (its own user, the target): the same but for those.
        entries = json.dumps(audit_entries(app, b.org_id)[mark:], sort_keys=True)
        entries = entries.replace(target, "<target>").replace(f"{own}@bravo.example", "<own>")
        answers[target] = (r, json.loads(entries))
        assert account_state(app, f"{own}@bravo.example") is not None  # its email stays

    (taken, taken_log), (free, free_log) = answers[ANN], answers["ghost@alpha.example"]
    assert taken.status_code == free.status_code == 200, taken.get_data(as_text=True)
    assert taken.get_json()["userName"] == ANN
    assert shape(taken.get_json()) == shape(free.get_json())
    text = taken.get_data(as_text=True).lower()
    assert "already" not in text and "exists" not in text
    assert [(e["action"], e["outcome"], e["detail"]) for e in taken_log] == [
        (e["action"], e["outcome"], e["detail"]) for e in free_log
    ]
    assert account_state(app, "ghost@alpha.example") is None
    assert account_state(app, ANN).organizations == ("Alpha",)
    assert_a_untouched(app, cast, before)


def test_b_deprovisioning_a_shared_person_leaves_a_and_her_sessions_alone(app, cast, verified):
    before = snapshot(app)
    session = a_sso_session(app, cast, ANN)
    password_session = app.test_client()
    assert password_login(password_session, ANN, ANN_PW).status_code == 302
    attached = cast.b.scim.post("/Users", user_body(ANN))
    assert attached.status_code == 201
    assert cast.b.scim.delete(f"/Users/{attached.get_json()['id']}").status_code == 204
    assert account_state(app, ANN).organizations == ("Alpha",)
    assert acts_in(session) == ["Alpha"]
    assert acts_in(password_session) == ["Alpha"]
    assert_a_untouched(app, cast, before)


# -- no oracle ------------------------------------------------------------------------------


def test_b_answers_and_audit_are_the_same_whether_or_not_the_email_has_an_account(
    app, cast, verified
):
    b = cast.b
    runs = {}
    for email in (ANN, "ghost@alpha.example"):
        mark = len(audit_entries(app, b.org_id))
        r = b.scim.post("/Users", user_body(email, password=B_PW))
        runs[email] = (r, audit_entries(app, b.org_id)[mark:])
    (existing, existing_log), (fresh, fresh_log) = runs[ANN], runs["ghost@alpha.example"]
    assert existing.status_code == fresh.status_code == 201
    assert shape(existing.get_json()) == shape(fresh.get_json())
    assert set(existing.headers.keys()) == set(fresh.headers.keys())
    for log in (existing_log, fresh_log):
        for e in log:
            assert "created_account" not in e["detail"] and "account_id" not in e["detail"], e

    def summary(log: list[dict[str, t.Any]]) -> list[t.Any]:
        return [
            (e["action"], e["outcome"], (e["target"] or "").split(":")[0], sorted(e["detail"]))
            for e in log
        ]

    assert summary(existing_log) == summary(fresh_log)


def test_b_audit_log_does_not_name_an_account_b_did_not_create(app, cast):
    """The id of the account B's SCIM attached tells its age (ids grow): an account id in
    B's log that is older than the ones B's creates make says the email had an account."""
    with app.app_context():
        ann_id = okta.directory().find_account(ANN).id
    mark = len(audit_entries(app, cast.b.org_id))
    assert cast.b.scim.post("/Users", user_body(ANN)).status_code == 201
    log = audit_entries(app, cast.b.org_id)[mark:]
    named = [
        e
        for e in log
        if e["target"] == f"account:{ann_id}"
        or str(ann_id) in [str(v) for value in e["detail"].values() for v in _flat(value)]
    ]
    assert named == [], named


def _flat(value: t.Any) -> list[t.Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


# -- sessions -------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [False, True], ids=["only_in_a", "also_in_b"])
def test_a_deactivation_ends_the_persons_sso_session_vouched_by_a(app, cast, shared):
    if shared:
        assert cast.b.scim.post("/Users", user_body(ANN)).status_code == 201
    session = a_sso_session(app, cast, ANN)
    r = cast.a.scim.patch(f"/Users/{cast.ann_uid}", patch_body(replace("active", False)))
    assert r.status_code == 200
    assert me_status(session) == 401
    assert add_monitor(session, cast.a) == 401
    # JIT does not let her back in through A's Okta either.
    assert cast.a.sso(app.test_client(), ANN).status_code == 403


def me_status(browser: t.Any) -> int:
    return int(browser.get(f"{BASE_URL}/me").status_code)


@pytest.mark.parametrize("how", ["a_detaches", "another_org_verifies"])
def test_a_password_session_whose_password_a_set_ends_when_a_stops_managing(app, cast, how):
    assert cast.b.scim.post("/Users", user_body(ANN)).status_code == 201  # shared with B
    session = app.test_client()
    assert password_login(session, ANN, ANN_PW).status_code == 302
    assert acts_in(session) == ["Alpha"]  # A's password: vouched for by A only
    if how == "a_detaches":
        r = cast.a.scim.patch(f"/Users/{cast.ann_uid}", patch_body(replace("active", False)))
        assert r.status_code == 200
        assert account_state(app, ANN).organizations == ("Bravo",)
    else:
        verify_by_operator(app, cast.b, "alpha.example")
    assert manager_of(app, ANN) != cast.a.org_id
    assert me_status(session) == 401
    assert password_login(app.test_client(), ANN, ANN_PW).status_code == 401


@pytest.mark.parametrize("by", ["directory", "cli"])
def test_end_sessions_signs_out_every_session_of_the_account(app, cast, by):
    sso = a_sso_session(app, cast, SAM)
    by_password = app.test_client()
    assert password_login(by_password, SAM, SAM_PW).status_code == 302
    other = a_sso_session(app, cast, ANN)
    if by == "cli":
        okta_cli_ok(app, "user", "end-sessions", SAM)
    else:
        with app.app_context(), okta.directory(actor="test").atomic() as d:
            d.end_sessions(d.find_account(SAM), reason="lost laptop")
    assert me_status(sso) == 401 and me_status(by_password) == 401
    assert acts_in(other) == ["Alpha"]  # only that account's sessions
    assert has_password(app, SAM, SAM_PW)  # ending sessions is no password reset
    fresh = app.test_client()
    assert password_login(fresh, SAM, SAM_PW).status_code == 302
    assert acts_in(fresh) == ["Alpha"]


def test_require_sso_lets_only_sessions_of_a_own_okta_act_in_a(app, cast):
    a, b = cast.a, cast.b
    by_password = app.test_client()
    assert password_login(by_password, SAM, SAM_PW).status_code == 302
    assert add_monitor(by_password, a) == 302

    okta_cli_ok(app, "org", "require-sso", str(a.org_id), "on")
    assert add_monitor(by_password, a) == 403
    got = who(by_password)
    assert got is not None and got["organizations"] == []  # signed in, acting nowhere in A
    assert "Alpha" not in by_password.get(f"{BASE_URL}/").get_data(as_text=True)
    # A session of B's Okta for a person of both never acts in A.
    assert b.scim.post("/Users", user_body(SAM)).status_code == 201
    via_b = app.test_client()
    assert b.sso(via_b, SAM).status_code == 302
    assert acts_in(via_b) == ["Bravo"] and add_monitor(via_b, a) == 403
    # A password A's SCIM synced is no sign-in through A's Okta either.
    synced = app.test_client()
    assert password_login(synced, ANN, ANN_PW).status_code == 302
    assert acts_in(synced) == [] and add_monitor(synced, a) == 403
    # A's own Okta does.
    via_a = a_sso_session(app, cast, SAM)
    assert add_monitor(via_a, a) == 302

    okta_cli_ok(app, "org", "require-sso", str(a.org_id), "off")
    assert add_monitor(by_password, a) == 302


def test_require_sso_needs_a_configured_connection(app):
    bare = okta_cli_ok(app, "org", "create", "Bare").strip()
    result = okta_cli(app, "org", "require-sso", bare, "on")
    assert result.exit_code != 0 and result.stderr


@pytest.mark.account_removal("delete")
def test_a_session_of_a_deleted_account_never_becomes_another_accounts_session(app, cast):
    """Lee signed up with her own password and A provisioned her. A deprovisions her: her
    account (in no other organization) is deleted. B then provisions a new person. Lee's
    browser must be signed out, not signed in as the account created next."""
    a, b = cast.a, cast.b
    signed_up(app, a, "lee@alpha.example", "lee-pw")
    provisioned = a.scim.post("/Users", user_body("lee@alpha.example"))
    assert provisioned.status_code == 201
    lee = app.test_client()
    assert password_login(lee, "lee@alpha.example", "lee-pw").status_code == 302
    assert who(lee)["email"] == "lee@alpha.example"

    r = a.scim.patch(f"/Users/{provisioned.get_json()['id']}", patch_body(replace("active", False)))
    assert r.status_code == 200
    assert account_state(app, "lee@alpha.example") is None
    assert (
        b.scim.post("/Users", user_body("bob@bravo.example", password="bob-pw")).status_code == 201
    )

    got = who(lee)
    assert got is None, f"Lee's old session is now signed in as {got}"


# -- password sign-in of the sample app -----------------------------------------------------


def test_wrong_email_and_wrong_password_get_the_same_answer(app, cast):
    # An account without any password (signed in by SSO only) answers the same too.
    assert cast.a.sso(app.test_client(), "sso.only@alpha.example").status_code == 302
    answers = []
    for email, password in (
        ("nobody@alpha.example", "whatever-1"),
        (SAM, "not-sams-password"),
        ("sso.only@alpha.example", "whatever-2"),
    ):
        browser = app.test_client()
        r = password_login(browser, email, password)
        answers.append((r.status_code, r.get_data(as_text=True).replace(email, "EMAIL")))
        assert who(browser) is None
    assert answers[0][0] == 401
    assert answers[1] == answers[0] and answers[2] == answers[0]
    assert "Wrong email or password" in answers[0][1]


def test_a_remembered_sign_in_ends_with_the_accounts_sessions(app):
    """A host that offers "remember me" (Flask-Login's remember cookie, a standard feature):
    once the browser's session cookie is gone (the browser restarted), Flask-Login signs the
    person in again from the remember cookie. Sessions the account had must still end with
    ``end_sessions`` (as they do with a cleared password or a change of manager)."""

    @app.post("/test/remembered-login")
    def remembered_login() -> str:
        account = okta.directory().find_account(request.form["email"])
        if account is None or not account.check_password(request.form["password"]):
            abort(401)
        login_user(account, remember=True)
        return "signed in"

    a = make_org(app, "Alpha", A_IDP, domains=("alpha.example",))
    signed_up(app, a, SAM, SAM_PW)
    browser = app.test_client()
    r = browser.post(f"{BASE_URL}/test/remembered-login", data={"email": SAM, "password": SAM_PW})
    assert r.status_code == 200
    assert acts_in(browser) == ["Alpha"]
    with app.app_context(), okta.directory(actor="test").atomic() as d:
        d.end_sessions(d.find_account(SAM), reason="lost laptop")
    # The browser restarts: its session cookie is gone, the remember cookie stays.
    browser.delete_cookie("session", domain="app.example.test")
    assert browser.get_cookie("session", domain="app.example.test") is None
    assert browser.get_cookie("remember_token", domain="app.example.test") is not None
    got = who(browser)
    assert got is None, f"signed in again from the remember cookie: {got}"
