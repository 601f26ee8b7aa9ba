"""SCIM under truly concurrent requests: a real server, real sockets, one DB connection each.

Okta sends provisioning requests in parallel (several worker threads per app), and a
retry can race the original. These tests run the sample app in a threaded WSGI
server on 127.0.0.1 and fire requests from a thread pool, started together at a
barrier, so that the transactions really overlap in PostgreSQL. A 5xx answer
under concurrency is a bug.
"""

from __future__ import annotations

import gzip
import json
import threading
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from sample_app.models import okta
from tests.conftest import OKTA_HEADERS
from tests.conftest import patch_body
from tests.conftest import provisioning_org
from tests.conftest import user_body

pytestmark = pytest.mark.postgresql_only

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
#: Seconds any single HTTP request may take; the barrier waits at most this too.
TIMEOUT = 30


class Answer(t.NamedTuple):
    status: int
    headers: dict[str, str]
    body: t.Any


class LiveScim:
    """Speaks to ``/scim/v2`` of a live server over HTTP, with Okta's headers."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def request(self, method: str, path: str, body: t.Any = None) -> Answer:
        headers = {**OKTA_HEADERS, "Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/scim+json; charset=utf-8"
        req = urllib.request.Request(
            self.base + "/scim/v2" + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
                return _answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return _answer(error.code, error.headers, error.read())

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, body: t.Any) -> Answer:
        return self.request("POST", path, body)

    def patch(self, path: str, body: t.Any) -> Answer:
        return self.request("PATCH", path, body)


def _answer(status: int, headers: t.Any, raw: bytes) -> Answer:
    if headers.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    return Answer(status, dict(headers.items()), json.loads(text) if text else None)


@pytest.fixture
def okta_client(app: Flask, live: str) -> LiveScim:
    """A client holding a provisioning token of the Acme organization, used once already.

    The first use of a token writes to its row; using it once here keeps that write
    out of the races below.
    """
    _, token = provisioning_org(app, "Acme")
    client = LiveScim(live, token)
    assert client.get("/Users?count=1").status == 200
    return client


def together(n: int, work: t.Callable[[int], Answer]) -> list[Answer]:
    """Run ``work(0..n-1)`` on ``n`` threads that start at one barrier; the answers in order."""
    barrier = threading.Barrier(n, timeout=TIMEOUT)

    def run(i: int) -> Answer:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(run, i) for i in range(n)]
        return [f.result(timeout=TIMEOUT * 3) for f in futures]


def assert_no_server_error(answers: list[Answer]) -> None:
    crashes = [(a.status, a.body) for a in answers if a.status >= 500]
    assert not crashes, f"the server answered 5xx under concurrency: {crashes}"


def assert_uniqueness_error(answer: Answer) -> None:
    assert answer.status == 409, answer
    assert answer.headers["Content-Type"].startswith("application/scim+json")
    assert answer.body["schemas"] == [ERROR]
    assert answer.body["status"] == "409"
    assert answer.body["scimType"] == "uniqueness"
    assert isinstance(answer.body["detail"], str) and answer.body["detail"]


def q(filter_: str) -> str:
    return urllib.parse.quote(filter_)


def make_users(client: LiveScim, n: int, prefix: str) -> list[str]:
    ids = []
    for i in range(n):
        answer = client.post("/Users", user_body(f"{prefix}{i}@atko.com"))
        assert answer.status == 201, answer
        ids.append(answer.body["id"])
    return ids


def make_group(client: LiveScim, name: str, members: t.Sequence[str] = ()) -> str:
    answer = client.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]},
    )
    assert answer.status == 201, answer
    return t.cast(str, answer.body["id"])


def group_members(client: LiveScim, gid: str) -> set[str]:
    answer = client.get(f"/Groups/{gid}")
    assert answer.status == 200, answer
    return {m["value"] for m in answer.body.get("members", [])}


def team_emails(app: Flask, name: str) -> set[str]:
    with app.app_context():
        directory = okta.directory()
        org = directory.get_organization("Acme")
        return {a.email for a in directory.team_members(directory.get_team(org, name))}


# -- POST /Users --------------------------------------------------------------------------------


def case_variants(user_name: str, n: int) -> list[str]:
    """``n`` spellings of ``user_name`` that differ only in case."""
    local, domain = user_name.split("@")
    variants = [
        user_name,
        user_name.upper(),
        user_name.lower(),
        local.title() + "@" + domain,
        local + "@" + domain.upper(),
        local.upper() + "@" + domain,
        local.swapcase() + "@" + domain.title(),
    ]
    return [variants[i % len(variants)] for i in range(n)]


@pytest.mark.parametrize("round_", range(3))
def test_parallel_creates_of_one_user_name_make_one_user(app, okta_client, round_):
    user_name = f"Race{round_}.Person@Atko.com"
    names = case_variants(user_name, 10)

    answers = together(10, lambda i: okta_client.post("/Users", user_body(names[i])))

    assert_no_server_error(answers)
    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 1, 409: 9}, [(a.status, a.body) for a in answers]
    for answer in answers:
        if answer.status == 409:
            assert_uniqueness_error(answer)
    created = next(a for a in answers if a.status == 201)
    found = okta_client.get("/Users?filter=" + q(f'userName eq "{user_name}"'))
    assert [u["id"] for u in found.body["Resources"]] == [created.body["id"]]
    with app.app_context():
        directory = okta.directory()
        ident, account = okta.models.identity, okta.models.account
        assert (
            directory.session.scalar(
                select(func.count())
                .select_from(ident)
                .where(ident.user_name_key == user_name.lower())
            )
            == 1
        )
        assert (
            directory.session.scalar(
                select(func.count())
                .select_from(account)
                .where(func.lower(account.email) == user_name.lower())
            )
            == 1
        )


def test_parallel_creates_of_different_user_names_with_one_email_make_one_account(app, okta_client):
    """Different userNames (not emails), one primary email: one person; others get 409.

    The account's email is the primary email when ``userName`` is not an email address.
    """
    email = "Shared.Mailbox@atko.com"
    names = [f"alias{i}" for i in range(10)]
    bodies = [
        user_body(n, emails=[{"primary": True, "value": email, "type": "work"}]) for n in names
    ]

    answers = together(10, lambda i: okta_client.post("/Users", bodies[i]))

    assert_no_server_error(answers)
    assert Counter(a.status for a in answers) == {201: 1, 409: 9}, [
        (a.status, a.body) for a in answers
    ]
    for answer in answers:
        if answer.status == 409:
            assert_uniqueness_error(answer)
    with app.app_context():
        account = okta.models.account
        assert (
            okta.directory().session.scalar(
                select(func.count())
                .select_from(account)
                .where(func.lower(account.email) == email.lower())
            )
            == 1
        )


def test_parallel_creates_of_different_people_all_succeed(app, okta_client):
    answers = together(10, lambda i: okta_client.post("/Users", user_body(f"crowd{i}@atko.com")))

    assert_no_server_error(answers)
    assert [a.status for a in answers] == [201] * 10, [(a.status, a.body) for a in answers]
    listed = okta_client.get("/Users?filter=" + q('userName sw "crowd"'))
    assert listed.body["totalResults"] == 10
    with app.app_context():
        org = okta.directory().get_organization("Acme")
        emails = {a.email for a, _ in okta.directory().members(org)}
        assert {f"crowd{i}@atko.com" for i in range(10)} <= emails


# -- PATCH /Groups/{id} -------------------------------------------------------------------------


def add_member(gid: str, uid: str) -> dict[str, t.Any]:
    return patch_body({"op": "add", "path": "members", "value": [{"value": uid}]})


def remove_member(uid: str) -> dict[str, t.Any]:
    return patch_body({"op": "remove", "path": f'members[value eq "{uid}"]'})


def test_parallel_member_adds_all_land(app, okta_client):
    uids = make_users(okta_client, 20, "adder")
    gid = make_group(okta_client, "Parallel Adds")

    answers = together(20, lambda i: okta_client.patch(f"/Groups/{gid}", add_member(gid, uids[i])))

    assert_no_server_error(answers)
    assert all(a.status in (200, 204) for a in answers), [(a.status, a.body) for a in answers]
    for i, answer in enumerate(answers):
        if answer.body is not None:  # 200 with the group; 204 has no body
            assert uids[i] in {m["value"] for m in answer.body["members"]}
    assert group_members(okta_client, gid) == set(uids)
    assert team_emails(app, "Parallel Adds") == {f"adder{i}@atko.com" for i in range(20)}
    with app.app_context():
        directory = okta.directory()
        team = directory.get_team(directory.get_organization("Acme"), "Parallel Adds")
        assert len(directory.team_members(team)) == 20


def test_parallel_member_adds_each_get_a_distinct_version(app, okta_client):
    """Each PATCH changes the group, so each answer's ETag names a different version.

    A lost update of the version counter would give two different member lists the
    same ETag, and an ``If-Match`` holding it would then pass against a changed group.
    """
    uids = make_users(okta_client, 20, "versioned")
    gid = make_group(okta_client, "Versioned")
    before = okta_client.get(f"/Groups/{gid}").body["meta"]["version"]

    answers = together(20, lambda i: okta_client.patch(f"/Groups/{gid}", add_member(gid, uids[i])))

    assert_no_server_error(answers)
    assert all(a.status in (200, 204) for a in answers)
    seen: dict[str, frozenset[str]] = {}
    for answer in answers:
        if answer.body is None:  # 204: only the ETag
            continue
        members = frozenset(m["value"] for m in answer.body["members"])
        tag = answer.headers["ETag"]
        assert seen.setdefault(tag, members) == members, (
            f"two different member lists were both answered with ETag {tag}"
        )
    versions = [a.headers["ETag"] for a in answers]
    assert len(set(versions)) == 20, Counter(versions)
    assert before not in versions
    final = okta_client.get(f"/Groups/{gid}")
    assert final.headers["ETag"] == max(versions, key=lambda v: int(v.strip('W/"')))


def test_parallel_mixed_adds_and_removes_on_disjoint_users(app, okta_client):
    leaving = make_users(okta_client, 10, "leaving")
    staying = make_users(okta_client, 5, "staying")
    joining = make_users(okta_client, 10, "joining")
    gid = make_group(okta_client, "Mixed", leaving + staying)
    assert group_members(okta_client, gid) == set(leaving + staying)

    def work(i: int) -> Answer:
        if i % 2 == 0:
            return okta_client.patch(f"/Groups/{gid}", add_member(gid, joining[i // 2]))
        return okta_client.patch(f"/Groups/{gid}", remove_member(leaving[i // 2]))

    answers = together(20, work)

    assert_no_server_error(answers)
    assert all(a.status in (200, 204) for a in answers), [(a.status, a.body) for a in answers]
    assert group_members(okta_client, gid) == set(staying + joining)
    assert team_emails(app, "Mixed") == {f"staying{i}@atko.com" for i in range(5)} | {
        f"joining{i}@atko.com" for i in range(10)
    }
    for uid in leaving:
        assert okta_client.get(f"/Users/{uid}?attributes=groups").body.get("groups", []) == []


# -- POST /Groups -------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_parallel_creates_of_one_group_name_make_one_group(app, okta_client, round_):
    name = f"Pushed Group {round_}"
    names = [name if i % 2 == 0 else name.upper() for i in range(10)]

    answers = together(
        10,
        lambda i: okta_client.post(
            "/Groups", {"schemas": [GROUP], "displayName": names[i], "members": []}
        ),
    )

    assert_no_server_error(answers)
    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 1, 409: 9}, [(a.status, a.body) for a in answers]
    for answer in answers:
        if answer.status == 409:
            assert_uniqueness_error(answer)
    listed = okta_client.get("/Groups?filter=" + q(f'displayName eq "{name}"'))
    assert listed.status == 200 and listed.body["totalResults"] == 1
    with app.app_context():
        team = okta.models.team
        assert (
            okta.directory().session.scalar(
                select(func.count()).select_from(team).where(func.lower(team.name) == name.lower())
            )
            == 1
        )
