"""Cross-organization decisions under real concurrency (PostgreSQL only).

The sample app runs in a threaded WSGI server on 127.0.0.1; organization A and organization
B send their SCIM requests at the same moment (released together at a barrier), each round
on a fresh person, so that the transactions really overlap. Afterwards: no 5xx, and the
outcome is one that the two requests, run one after the other in some order, could have
given: nobody orphaned, nobody handed over.
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from sample_app.models import okta
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.ownership.support import A_IDP
from tests.ownership.support import B_IDP
from tests.ownership.support import Org
from tests.ownership.support import account_state
from tests.ownership.support import has_password
from tests.ownership.support import make_org
from tests.ownership.support import manager_of
from tests.saml_idp import post_acs
from tests.scim_api.test_concurrency import Answer
from tests.scim_api.test_concurrency import LiveScim
from tests.scim_api.test_concurrency import assert_no_server_error

pytestmark = pytest.mark.postgresql_only

ROUNDS = 5
#: Seconds any request, and the barrier, may take.
TIMEOUT = 30


@pytest.fixture
def orgs(app: Flask, live: str) -> tuple[Org, LiveScim, Org, LiveScim]:
    """A and B, each with a SCIM client on the live server (tokens used once already)."""
    a = make_org(app, "Alpha", A_IDP)
    b = make_org(app, "Bravo", B_IDP)
    a_scim, b_scim = LiveScim(live, a.token), LiveScim(live, b.token)
    for client in (a_scim, b_scim):
        assert client.get("/Users?count=1").status == 200
    return a, a_scim, b, b_scim


def together(*work: Callable[[], t.Any]) -> list[t.Any]:
    """Run each callable on its own thread, all released at one barrier; results in order."""
    barrier = threading.Barrier(len(work), timeout=TIMEOUT)

    def run(f: Callable[[], t.Any]) -> t.Any:
        barrier.wait()
        return f()

    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        futures = [pool.submit(run, f) for f in work]
        return [f.result(timeout=TIMEOUT * 3) for f in futures]


def created(answer: Answer) -> str:
    assert answer.status == 201, answer
    return t.cast(str, answer.body["id"])


DEACTIVATE = patch_body({"op": "replace", "path": "active", "value": False})


def create_with_retry(client: LiveScim, body: dict[str, t.Any], first: Answer) -> Answer:
    """A 409 under concurrency is an invitation to retry; the retry must settle it."""
    answer = first
    for _ in range(3):
        if answer.status != 409:
            break
        answer = client.post("/Users", body)
    return answer


def assert_consistent(app: Flask) -> None:
    """No membership of a missing account; every active identity's account exists and is a
    member of the identity's organization."""
    with app.app_context():
        d = okta.directory()
        a, m, ident = okta.models.account, okta.models.membership, okta.models.identity
        dangling = d.session.scalar(
            select(func.count())
            .select_from(m)
            .outerjoin(a, a.id == m.account_id)
            .where(a.id.is_(None))
        )
        assert dangling == 0
        for identity in d.session.scalars(select(ident).where(ident.active.is_(True))):
            assert identity.account_id is not None, identity.user_name
            account = d.session.get(a, identity.account_id)
            assert account is not None, identity.user_name
            organization = d.get_organization(identity.organization_id)
            assert d.member_role(organization, account) is not None, identity.user_name


def identity_state(app: Flask, org: Org, uid: str) -> tuple[bool, t.Any]:
    with app.app_context():
        d = okta.directory()
        identity = d.get_identity(d.get_organization(org.org_id), uid)
        return bool(identity.active), identity.account_id


# -- (a) A deactivates a person while B provisions the same email -----------------------------


def test_a_deactivation_racing_b_create_of_the_same_person(app, orgs):
    a, a_scim, b, b_scim = orgs
    for n in range(ROUNDS):
        email = f"leaver{n}@alpha.example"
        uid = created(a_scim.post("/Users", user_body(email)))
        body = user_body(email, password="bravo-pw")

        left, joined = together(
            lambda uid=uid: a_scim.patch(f"/Users/{uid}", DEACTIVATE),
            lambda body=body: b_scim.post("/Users", body),
        )

        assert_no_server_error([left, joined])
        assert left.status == 200, left
        assert joined.status in (201, 409), joined
        joined = create_with_retry(b_scim, body, joined)
        b_uid = created(joined)
        state = account_state(app, email)
        assert state is not None, f"round {n}: B's person has no account"
        assert state.organizations == ("Bravo",), (n, state)
        # Disabled by A's removal only if B's membership came after it, and then enabled.
        assert not state.disabled, f"round {n}: B's member is disabled"
        assert identity_state(app, a, uid) == (False, None)
        assert identity_state(app, b, b_uid) == (True, state.id)
        assert_consistent(app)


# -- (b) A and B deactivate a shared person at the same moment -------------------------------


def test_both_orgs_deactivating_a_shared_person_disable_the_account(app, orgs):
    """The default policy: the last one to leave disables the account, whoever it is."""
    _a, a_scim, _b, b_scim = orgs
    for n in range(ROUNDS):
        email = f"kept{n}@alpha.example"
        a_uid = created(a_scim.post("/Users", user_body(email)))
        b_uid = created(b_scim.post("/Users", user_body(email)))
        first = account_state(app, email)
        answers = together(
            lambda a_uid=a_uid: a_scim.patch(f"/Users/{a_uid}", DEACTIVATE),
            lambda b_uid=b_uid: b_scim.patch(f"/Users/{b_uid}", DEACTIVATE),
        )
        assert_no_server_error(answers)
        for answer, (client, uid) in zip(answers, ((a_scim, a_uid), (b_scim, b_uid)), strict=True):
            if answer.status == 409:  # retried, as Okta does
                answer = client.patch(f"/Users/{uid}", DEACTIVATE)
            assert answer.status == 200, answer
        state = account_state(app, email)
        assert state is not None and state.id == first.id, n
        assert state.disabled and state.organizations == (), f"round {n}: {state}"
        assert_consistent(app)


@pytest.mark.parametrize("b_verb", ["patch", "delete"])
@pytest.mark.account_removal("delete")
def test_both_orgs_deactivating_a_shared_person_delete_the_account(app, orgs, b_verb):
    a, a_scim, _b, b_scim = orgs
    for n in range(ROUNDS):
        email = f"shared{n}@alpha.example"
        a_uid = created(a_scim.post("/Users", user_body(email)))
        b_uid = created(b_scim.post("/Users", user_body(email)))
        assert account_state(app, email).organizations == ("Alpha", "Bravo")

        def b_leaves(b_uid: str = b_uid) -> Answer:
            if b_verb == "delete":
                return b_scim.request("DELETE", f"/Users/{b_uid}")
            return b_scim.patch(f"/Users/{b_uid}", DEACTIVATE)

        answers = together(
            lambda a_uid=a_uid: a_scim.patch(f"/Users/{a_uid}", DEACTIVATE), b_leaves
        )

        assert_no_server_error(answers)
        for answer in answers:
            assert answer.status in (200, 204, 409), answer
        # A refused change is retried, as Okta does.
        if answers[0].status == 409:
            assert a_scim.patch(f"/Users/{a_uid}", DEACTIVATE).status == 200
        if answers[1].status == 409:
            assert b_leaves().status in (200, 204)
        state = account_state(app, email)
        assert state is None, f"round {n}: the account was left orphaned: {state}"
        assert identity_state(app, a, a_uid) == (False, None)
        assert_consistent(app)


# -- (c) A verifies its domain while B sets a password in it --------------------------------

#: Other accounts of the domain: a real domain has many, and A's verification visits each.
FILLERS = 150
TARGETS = 3


def test_b_password_set_while_a_verifies_the_domain_does_not_stay(app, orgs):
    a, _a_scim, b, b_scim = orgs
    leaks = []
    for n in range(ROUNDS):
        domain = f"race{n}.example"
        # B's SCIM created these people first (nobody verified the domain): B manages them.
        targets = [f"t{i}@{domain}" for i in range(TARGETS)]
        uids = [created(b_scim.post("/Users", user_body(email))) for email in targets]
        with app.app_context(), okta.directory(actor="test").atomic() as d:
            for i in range(FILLERS):
                d.ensure_account(f"f{i}@{domain}")
        for email in targets:
            assert manager_of(app, email) == b.org_id

        def verify(domain: str = domain) -> str:
            with app.app_context(), okta.directory(actor="test").atomic() as d:
                organization = d.get_organization(a.org_id)
                assert d.verify_domain(organization, domain, None, by_operator=True).verified
            return "verified"

        def set_password(uid: str, n: int = n) -> Callable[[], Answer]:
            body = patch_body({"op": "replace", "path": "password", "value": f"bravo-{n}"})
            return lambda: b_scim.patch(f"/Users/{uid}", body)

        answers = together(verify, *[set_password(uid) for uid in uids])

        assert answers[0] == "verified"
        assert_no_server_error(answers[1:])
        for answer in answers[1:]:
            assert answer.status in (200, 409), answer
        with app.app_context():
            d = okta.directory()
            for email in targets:
                account = d.find_account(email)
                assert d.managing_organization_id(account) == a.org_id
                if account.check_password(f"bravo-{n}"):
                    leaks.append((n, email, d.password_organization_id(account)))
    assert leaks == [], (
        "B's password stayed on accounts of a domain A verified "
        f"(round, email, organization recorded as having set it): {leaks}"
    )


# -- (d) B's Okta admits by JIT while A's SCIM creates the same person ----------------------


def test_jit_never_takes_over_an_account_created_while_it_decided(app):
    """B's sign-in looked the email up (no account yet); before it admits the person, A's
    SCIM creates the account, with A's password. B's JIT must not then take the account
    as its own (become its creator, hence its manager) and must not admit it."""
    a = make_org(app, "Alpha", A_IDP)
    b = make_org(app, "Bravo", B_IDP, domains=("alpha.example",))
    email = "late@alpha.example"
    domain_table = okta.models.domain.__table__
    acs_thread: list[int] = []
    fired: list[int] = []

    def a_creates_now(state: t.Any) -> None:
        # The first look at the verified domains in B's sign-in: the JIT's decision has
        # started, its lookup of the account is done.
        if fired or threading.get_ident() not in acs_thread or not state.is_select:
            return
        if domain_table not in state.statement.get_final_froms():
            return
        fired.append(1)
        worker = threading.Thread(
            target=lambda: results.append(
                a.scim.post("/Users", user_body(email, password="alpha-pw")).status_code
            )
        )
        worker.start()
        worker.join(TIMEOUT)

    results: list[int] = []
    event.listen(Session, "do_orm_execute", a_creates_now)
    try:
        acs_thread.append(threading.get_ident())
        browser = app.test_client()
        xml = b.idp.for_connection(b.integration_id, email)
        response = post_acs(browser, b.integration_id, xml)
    finally:
        event.remove(Session, "do_orm_execute", a_creates_now)
    assert fired and results == [201], (fired, results)

    assert manager_of(app, email) == a.org_id, "B's JIT took over the account A created"
    assert has_password(app, email, "alpha-pw")
    assert response.status_code == 403, response.status_code
    assert account_state(app, email).organizations == ("Alpha",)
