"""Big organizations (issue 16, item 5), by behaviour: never by time (benchmarks/big_orgs.py
measures that).

- ``GET /Groups/{id}`` streams its members: the bytes are those of the whole resource
  built as before (the same request answered under a JSON provider that forbids
  streaming), for groups of 0, 1 and a few thousand members, shaped or not.
- Deep pages of ``GET /Users`` return each person once, in list order, also while
  people are added between two pages.
- A PATCH adding 1,000 members adds exactly them (the team follows for the active ones),
  with one signal and one audit entry, in as many SQL statements as a PATCH of 10.
"""

from __future__ import annotations

import typing as t
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from flask_okta_scim import signals
from flask_okta_scim.sqla import SQLAlchemyScimStore
from flask_okta_scim.sqla.scim_query import MEMBER_BATCH
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import patch_body
from tests.conftest import statements

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
#: When the people of :func:`people` were created: three at each second (ties by id).
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def people(app: Flask, org_id: t.Any, n: int, prefix: str = "p") -> list[str]:
    """Provision ``n`` people in the organization at once (accounts, memberships,
    identities: what ``POST /Users`` leaves); their SCIM ids."""
    m = okta.models
    names = [f"{prefix}{i:05d}@big.example" for i in range(n)]
    ids = [str(uuid.uuid4()) for _ in names]
    with app.app_context():
        accounts = db.session.scalars(
            insert(m.account).returning(m.account.id, sort_by_parameter_order=True),
            [{"email": e, "display_name": e} for e in names],
        ).all()
        db.session.execute(
            insert(m.membership),
            [
                {"organization_id": org_id, "account_id": a, "role": "member", "joined_via": "scim"}
                for a in accounts
            ],
        )
        db.session.execute(
            insert(m.identity),
            [
                {
                    "id": i,
                    "organization_id": org_id,
                    "user_name": e,
                    "user_name_key": e,
                    "email": e,
                    "email_key": e,
                    "active": True,
                    "account_id": a,
                    "attributes": {"emails": [{"value": e, "primary": True}]},
                    "version": 1,
                    "created_at": EPOCH + timedelta(seconds=k // 3),
                    "updated_at": EPOCH,
                }
                for k, (i, e, a) in enumerate(zip(ids, names, accounts, strict=True))
            ],
        )
        db.session.commit()
    return ids


def listed_ids(app: Flask, org_id: t.Any) -> list[str]:
    """The organization's people as the database orders a list: creation, then id."""
    ident = okta.models.identity
    with app.app_context():
        return list(
            db.session.scalars(
                select(ident.id)
                .where(ident.organization_id == org_id, ident.deleted_at.is_(None))
                .order_by(ident.created_at, ident.id)
            )
        )


def group_member_ids(app: Flask, group_id: str) -> list[str]:
    """A group's members as the database holds them, in list order."""
    gm, ident = okta.models.group_member, okta.models.identity
    with app.app_context():
        return list(
            db.session.scalars(
                select(ident.id)
                .join(gm, gm.identity_id == ident.id)
                .where(gm.group_id == group_id, ident.deleted_at.is_(None))
                .order_by(ident.created_at, ident.id)
            )
        )


def new_group(scim: ScimClient, name: str) -> str:
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": name, "members": []})
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(str, r.get_json(force=True)["id"])


def add(scim: ScimClient, group_id: str, ids: list[str], op: str = "add") -> t.Any:
    """Okta's PATCH adding (or Entra's removing) members by a list of values."""
    value = [{"value": i} for i in ids]
    return scim.patch(
        f"/Groups/{group_id}", patch_body({"op": op, "path": "members", "value": value})
    )


class _WholeAnswers(DefaultJSONProvider):
    """Flask's provider, its ``dumps`` overridden: the group's answer is then built whole."""

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        return super().dumps(obj, **kwargs)


@contextmanager
def whole_answers(app: Flask) -> Iterator[None]:
    streaming = app.json
    app.json = _WholeAnswers(app)
    try:
        yield
    finally:
        app.json = streaming


# -- GET /Groups/{id}, streamed ------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2500])
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?attributes=members.value",
        "?excludedAttributes=members.type,meta",
        "?attributes=members",
    ],
)
def test_a_streamed_group_is_the_group_built_whole(app, scim, scim_org, size, query):
    org_id, _ = scim_org
    ids = people(app, org_id, max(size, 3))[:size]
    group_id = new_group(scim, "Everyone")
    if ids:
        assert add(scim, group_id, ids).status_code == 204
    streamed = scim.get(f"/Groups/{group_id}{query}")
    with whole_answers(app):
        whole = scim.get(f"/Groups/{group_id}{query}")
    assert streamed.status_code == whole.status_code == 200
    assert "Content-Length" not in streamed.headers  # sent as it was read
    assert "Content-Length" in whole.headers
    assert streamed.get_data() == whole.get_data()
    assert streamed.headers["ETag"] == whole.headers["ETag"]
    assert streamed.mimetype == whole.mimetype == "application/scim+json"
    body = streamed.get_json(force=True)
    assert [m["value"] for m in body["members"]] == group_member_ids(app, group_id)
    assert sorted(m["value"] for m in body["members"]) == sorted(ids)


def test_a_streamed_group_lists_deactivated_members_not_deleted_ones(app, scim, scim_org):
    org_id, _ = scim_org
    ids = people(app, org_id, 6)
    group_id = new_group(scim, "Ops")
    assert add(scim, group_id, ids).status_code == 204
    scim.patch(f"/Users/{ids[0]}", patch_body({"op": "replace", "value": {"active": False}}))
    assert scim.delete(f"/Users/{ids[1]}").status_code == 204
    streamed = scim.get(f"/Groups/{group_id}")
    with whole_answers(app):
        assert streamed.get_data() == scim.get(f"/Groups/{group_id}").get_data()
    members = [m["value"] for m in streamed.get_json(force=True)["members"]]
    assert ids[0] in members and ids[1] not in members and len(members) == 5


def test_a_streamed_group_answers_304_and_head_like_before(app, scim, scim_org):
    org_id, _ = scim_org
    group_id = new_group(scim, "Ops")
    assert add(scim, group_id, people(app, org_id, 3)).status_code == 204
    etag = scim.get(f"/Groups/{group_id}").headers["ETag"]
    r = scim.get(f"/Groups/{group_id}", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.headers["ETag"] == etag and r.get_data() == b""
    head = scim.request("HEAD", f"/Groups/{group_id}")
    assert head.status_code == 200 and head.headers["ETag"] == etag and head.get_data() == b""
    assert_scim_error(scim.get(f"/Groups/{uuid.uuid4()}"), 404)


def test_the_store_hands_out_members_in_batches(app, scim, scim_org):
    """The members are read from a cursor, a batch at a time: never one list of them all."""
    org_id, _ = scim_org
    ids = people(app, org_id, 2500)
    group_id = new_group(scim, "Everyone")
    assert add(scim, group_id, ids).status_code == 204
    with app.app_context(), okta.directory().atomic() as directory:
        organization = directory.get_organization(org_id)
        store = SQLAlchemyScimStore(directory, organization, base_url="https://x/scim/v2")
        batches = store.member_ids(t.cast(t.Any, store.load_group(group_id)))
        sizes = [len(batch) for batch in batches]
    assert max(sizes) <= MEMBER_BATCH and sum(sizes) == 2500


# -- deep pages of GET /Users --------------------------------------------------------------


def pages(scim: ScimClient, count: int, query: str = "") -> Iterator[dict[str, t.Any]]:
    start = 1
    while True:
        page = scim.get(f"/Users?startIndex={start}&count={count}{query}").get_json(force=True)
        yield page
        if not page["Resources"]:
            return
        start += len(page["Resources"])


def test_pages_hold_each_person_once_in_list_order(app, scim, scim_org):
    org_id, _ = scim_org
    people(app, org_id, 230)  # three people per second: ties ordered by id
    ident = okta.models.identity
    with app.app_context():
        gone = db.session.scalars(select(ident.id).order_by(ident.id).limit(7)).all()
        db.session.execute(update(ident).where(ident.id.in_(gone)).values(deleted_at=EPOCH))
        db.session.commit()
    expected = listed_ids(app, org_id)
    assert len(expected) == 223
    seen: list[str] = []
    for page in pages(scim, 20):
        assert page["totalResults"] == 223
        seen += [u["id"] for u in page["Resources"]]
    assert seen == expected
    last = scim.get("/Users?startIndex=221&count=20").get_json(force=True)
    assert [u["id"] for u in last["Resources"]] == expected[220:]
    beyond = scim.get("/Users?startIndex=500&count=20").get_json(force=True)
    assert beyond["Resources"] == [] and beyond["totalResults"] == 223
    assert scim.get("/Users?count=0").get_json(force=True)["totalResults"] == 223


def test_pages_stay_whole_while_people_are_added(app, scim, scim_org):
    """New people are created last: a listing in progress finds them at its end."""
    org_id, _ = scim_org
    people(app, org_id, 95)
    seen: list[str] = []
    for n, page in enumerate(pages(scim, 10)):
        seen += [u["id"] for u in page["Resources"]]
        if n < 3:
            r = scim.post("/Users", {"userName": f"new{n}@big.example", "active": True})
            assert r.status_code == 201
    assert seen == listed_ids(app, org_id)
    assert len(seen) == len(set(seen)) == 98


def test_filtered_pages_hold_each_match_once_in_list_order(app, scim, scim_org):
    org_id, _ = scim_org
    ids = people(app, org_id, 120)
    ident = okta.models.identity
    with app.app_context():
        db.session.execute(update(ident).where(ident.id.in_(ids[::4])).values(active=False))
        db.session.commit()
    active = [i for i in listed_ids(app, org_id) if i not in set(ids[::4])]
    seen: list[str] = []
    for page in pages(scim, 25, "&filter=active%20eq%20true"):
        assert page["totalResults"] == 90
        seen += [u["id"] for u in page["Resources"]]
    assert seen == active


# -- PATCH adding 1,000 members ------------------------------------------------------------


def test_one_patch_adds_a_thousand_members_and_their_team(app, scim, scim_org):
    org_id, _ = scim_org
    ids = people(app, org_id, 1003)
    inactive = ids[:3]
    ident, gm = okta.models.identity, okta.models.group_member
    with app.app_context():
        db.session.execute(update(ident).where(ident.id.in_(inactive)).values(active=False))
        db.session.commit()
    group_id = new_group(scim, "Everyone")
    assert add(scim, group_id, ids[:1]).status_code == 204  # already a member: not added again
    versions_before = {i: scim.get(f"/Users/{i}").headers["ETag"] for i in ids[1:4]}
    changed: list[tuple[list[str], list[str]]] = []

    def receiver(sender: t.Any, **kw: t.Any) -> None:  # the accounts, read while they are sent
        changed.append(([a.email for a in kw["added"]], [a.email for a in kw["removed"]]))

    signals.team_members_changed.connect(receiver)
    try:
        r = add(scim, group_id, ids)
    finally:
        signals.team_members_changed.disconnect(receiver)
    assert r.status_code == 204
    assert sorted(group_member_ids(app, group_id)) == sorted(ids)
    with app.app_context():
        directory = okta.directory()
        team = directory.get_team(directory.get_organization(org_id), "Everyone")
        in_team = {a.email for a in directory.team_members(team)}
        emails = {i: e for i, e in db.session.execute(select(ident.id, ident.email))}
        entries = db.session.scalars(
            select(okta.models.audit)
            .where(okta.models.audit.action == "team.members")
            .order_by(okta.models.audit.id)
        ).all()
        assert db.session.scalar(select(db.func.count()).select_from(gm)) == 1003
    assert in_team == {emails[i] for i in ids[3:]}  # the active ones
    assert len(changed) == 1  # one signal for the change, as for any member change
    assert sorted(changed[0][0]) == sorted(emails[i] for i in ids[3:])
    assert changed[0][1] == []
    assert len(entries) == 1 and sorted(entries[0].detail["added"]) == sorted(in_team)
    for i, before in versions_before.items():  # their groups changed: new versions
        assert scim.get(f"/Users/{i}").headers["ETag"] != before
    r = add(scim, group_id, ids)  # the same again: nothing changes
    assert r.status_code == 204 and len(group_member_ids(app, group_id)) == 1003


def test_an_unknown_member_leaves_the_group_as_it_was(app, scim, scim_org):
    org_id, _ = scim_org
    ids = people(app, org_id, 1000)
    group_id = new_group(scim, "Everyone")
    etag = scim.get(f"/Groups/{group_id}").headers["ETag"]
    unknown = str(uuid.uuid4())
    r = add(scim, group_id, [*ids[:500], unknown, *ids[500:]])
    assert_scim_error(r, 400, "invalidValue")
    assert unknown in r.get_json(force=True)["detail"]
    assert group_member_ids(app, group_id) == []
    assert scim.get(f"/Groups/{group_id}").headers["ETag"] == etag


def test_another_organizations_people_are_not_members(app, scim, scim_org):
    from tests.conftest import provisioning_org

    other_id, other_token = provisioning_org(app, "Globex")
    theirs = people(app, other_id, 5, prefix="g")
    group_id = new_group(scim, "Everyone")
    assert_scim_error(add(scim, group_id, theirs), 400, "invalidValue")
    ours = people(app, scim_org[0], 5)
    assert add(scim, group_id, [*ours, theirs[0]], op="remove").status_code == 204
    assert group_member_ids(app, group_id) == []
    with app.app_context():
        ident = okta.models.identity
        assert (
            db.session.scalar(
                select(db.func.count()).select_from(ident).where(ident.id.in_(theirs))
            )
            == 5
        )
    assert ScimClient(app, other_token).get(f"/Users/{theirs[0]}").status_code == 200


def test_a_member_patch_costs_as_many_statements_for_1000_people_as_for_10(app, scim, scim_org):
    org_id, _ = scim_org
    ids = people(app, org_id, 1030)
    small, large = new_group(scim, "Small"), new_group(scim, "Large")
    assert add(scim, small, ids[1020:]).status_code == 204  # warm: the first compiles
    counts = {}
    for name, group_id, members in (("10", small, ids[:10]), ("1000", large, ids[10:1010])):
        with statements(app) as seen:
            assert add(scim, group_id, members).status_code == 204
        counts[name] = len(seen)
    assert counts["10"] == counts["1000"], counts
    for name, group_id, members in (("10", small, ids[:10]), ("1000", large, ids[10:1010])):
        with statements(app) as seen:
            assert add(scim, group_id, members, op="remove").status_code == 204
        counts[f"remove {name}"] = len(seen)
    assert counts["remove 10"] == counts["remove 1000"], counts
    assert group_member_ids(app, large) == []
