"""SCIM races as a red team runs them: concurrent HTTP requests to gunicorn workers on PostgreSQL.

Each race runs :data:`ROUNDS` rounds. A round sets up fresh resources one request at a
time, fires its racing requests from a thread pool released at one barrier, checks every
answer, then reads the final state back over HTTP. A 5xx is always a failure; so is an
answer outside those the race allows, a change that did not land although it was
answered 2xx (a lost update), or a final state no serial order of the successful
requests explains. A 409 is allowed only where the race is about a unique key, and then
only as an RFC 7644 error.
"""

from __future__ import annotations

import typing as t
import urllib.parse
from collections import Counter

import pytest

from tests.conftest import patch_body
from tests.conftest import user_body
from tests.scim_api.races.conftest import Answer
from tests.scim_api.races.conftest import RaceClient
from tests.scim_api.races.conftest import Tally
from tests.scim_api.races.conftest import is_scim_error
from tests.scim_api.races.conftest import together

pytestmark = pytest.mark.postgresql_only

ROUNDS = 12
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def replace(path: str, value: t.Any) -> dict[str, t.Any]:
    return patch_body({"op": "replace", "path": path, "value": value})


def add_members(*uids: str) -> dict[str, t.Any]:
    return patch_body({"op": "add", "path": "members", "value": [{"value": u} for u in uids]})


def remove_member(uid: str) -> dict[str, t.Any]:
    return patch_body({"op": "remove", "path": f'members[value eq "{uid}"]'})


def group_body(name: str, members: t.Sequence[str] = ()) -> dict[str, t.Any]:
    return {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}


def new_user(races: RaceClient, user_name: str) -> Answer:
    """A user made before a race; with no password, which takes a slow hash to store."""
    body = user_body(user_name)
    del body["password"]
    return races.ok("POST", "/Users", body, status=201)


def new_group(races: RaceClient, name: str, members: t.Sequence[str] = ()) -> str:
    return t.cast(
        str, races.ok("POST", "/Groups", group_body(name, members), status=201).body["id"]
    )


def members_of(races: RaceClient, gid: str) -> set[str]:
    return {m["value"] for m in races.ok("GET", f"/Groups/{gid}").body.get("members", [])}


def groups_of(races: RaceClient, uid: str) -> set[str]:
    body = races.ok("GET", f"/Users/{uid}?attributes=groups").body
    return {g["value"] for g in body.get("groups", [])}


def q(filter_: str) -> str:
    return urllib.parse.quote(filter_)


class Call(t.NamedTuple):
    """One request of a race."""

    method: str
    path: str
    body: t.Any = None
    headers: dict[str, str] | None = None


def fire(races: RaceClient, calls: list[Call]) -> list[Answer]:
    """Send ``calls`` all at once, one thread and connection each; their answers in order."""
    return together(len(calls), lambda i: races.send(*calls[i]))


def check_statuses(tally: Tally, answers: list[Answer], allowed: t.Sequence[set[int]]) -> None:
    """Each answer has a status its request allows (``allowed``, in the same order); a 4xx
    is an RFC 7644 error."""
    tally.count(answers)
    for answer, statuses in zip(answers, allowed, strict=True):
        if answer.status >= 500:
            continue  # counted by the tally
        tally.expect(answer.status in statuses, f"unexpected answer: {answer}")
        if answer.status >= 400:
            tally.expect(is_scim_error(answer), f"not an RFC 7644 error: {answer}")


def check_memberships_agree(tally: Tally, races: RaceClient, prefix: str, gids: list[str]) -> None:
    """The groups' ``members`` and the ``groups`` of the users whose userName starts with
    ``prefix`` say the same, and every member is a user that exists."""
    listed = races.ok(
        "GET", "/Users?attributes=groups&count=100&filter=" + q(f'userName sw "{prefix}"')
    ).body["Resources"]
    groups = {u["id"]: {g["value"] for g in u.get("groups", [])} & set(gids) for u in listed}
    members = {gid: members_of(races, gid) for gid in gids}
    for gid, found in members.items():
        tally.expect(found <= set(groups), f"group {gid} has members that are not users: {found}")
    for uid, in_groups in groups.items():
        by_groups = {gid for gid, found in members.items() if uid in found}
        tally.expect(in_groups == by_groups, f"user {uid}: in {in_groups}, listed by {by_groups}")


# -- (a) PATCHes of different attributes of one user --------------------------------------------

ATTRIBUTES: list[tuple[str, t.Callable[[int], t.Any]]] = [
    ("title", lambda r: f"Title {r}"),
    ("nickName", lambda r: f"Nick {r}"),
    ("userType", lambda r: f"Type {r}"),
    ("displayName", lambda r: f"Display {r}"),
    ("preferredLanguage", lambda r: "fr"),
    ("timezone", lambda r: "Europe/Paris"),
    ("profileUrl", lambda r: f"https://profiles.example.test/{r}"),
    ("locale", lambda r: "fr-FR"),
    ("name.givenName", lambda r: f"Given {r}"),
    ("name.familyName", lambda r: f"Family {r}"),
]


def read_path(resource: dict[str, t.Any], path: str) -> t.Any:
    value: t.Any = resource
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def test_patches_of_different_attributes_of_one_user_all_land(races: RaceClient, tally: Tally):
    for round_ in range(ROUNDS):
        created = new_user(races, races.email(f"attrs{round_}"))
        path, start = f"/Users/{created.body['id']}", created.version
        wanted = {name: value(round_) for name, value in ATTRIBUTES}
        names = list(wanted)

        answers = fire(races, [Call("PATCH", path, replace(n, wanted[n])) for n in names])

        check_statuses(tally, answers, [{200}] * len(names))
        final = races.ok("GET", path)
        lost = {n: read_path(final.body, n) for n in names if read_path(final.body, n) != wanted[n]}
        tally.expect(not lost, f"answered 200 but not kept: {lost}", lost_update=True)
        versions = [a.version for a in answers if a.status == 200]
        tally.expect(
            len(set(versions)) == len(versions) and final.version == start + len(versions),
            f"versions {sorted(versions)} from {start}, final {final.version}",
            lost_update=True,
        )
    tally.check()


# -- (b) PATCHes with one If-Match --------------------------------------------------------------


def test_one_if_match_lets_exactly_one_concurrent_patch_through(races: RaceClient, tally: Tally):
    n = 12
    for round_ in range(ROUNDS):
        created = new_user(races, races.email(f"ifmatch{round_}"))
        path, tag = f"/Users/{created.body['id']}", created.headers["ETag"]

        answers = fire(
            races,
            [
                Call("PATCH", path, replace("title", f"title {i}"), {"If-Match": tag})
                for i in range(n)
            ],
        )

        check_statuses(tally, answers, [{200, 412}] * n)
        statuses = Counter(a.status for a in answers)
        tally.expect(
            statuses == {200: 1, 412: n - 1},
            f"statuses {dict(statuses)}, not one 200 and {n - 1} 412",
            lost_update=statuses[200] > 1,
        )
        final = races.ok("GET", path)
        winners = [a.body["title"] for a in answers if a.status == 200]
        tally.expect(
            final.body.get("title") in winners and final.version == created.version + 1,
            f"final title {final.body.get('title')!r} v{final.version}, winners {winners}",
            lost_update=True,
        )
    tally.check()


# -- (c), (d) a group renamed or replaced while it is deleted -----------------------------------


@pytest.fixture(scope="module")
def two_members(races: RaceClient) -> list[str]:
    return [new_user(races, races.email(f"member{i}")).body["id"] for i in range(2)]


def test_a_group_rename_racing_its_delete(races: RaceClient, tally: Tally, two_members: list[str]):
    n = 12
    for round_ in range(ROUNDS):
        gid = new_group(races, f"Doomed {round_}", two_members)
        path = f"/Groups/{gid}"

        renames = [replace("displayName", f"Renamed {round_}.{i}") for i in range(1, n)]
        answers = fire(races, [Call("DELETE", path), *(Call("PATCH", path, r) for r in renames)])

        check_statuses(tally, answers, [{204}] + [{200, 204, 404}] * (n - 1))
        check_group_gone(tally, races, gid, two_members)
    tally.check()


def test_a_group_put_racing_its_delete(races: RaceClient, tally: Tally, two_members: list[str]):
    n = 12
    for round_ in range(ROUNDS):
        gid = new_group(races, f"Replaced {round_}", two_members[:1])
        path = f"/Groups/{gid}"

        puts = [
            group_body(f"Put {round_}.{i}", two_members[i % 2 :] if i % 3 else [])
            for i in range(1, n)
        ]
        answers = fire(races, [Call("DELETE", path), *(Call("PUT", path, p) for p in puts)])

        check_statuses(tally, answers, [{204}] + [{200, 404}] * (n - 1))
        check_group_gone(tally, races, gid, two_members)
    tally.check()


def check_group_gone(tally: Tally, races: RaceClient, gid: str, uids: list[str]) -> None:
    """The group is gone: not found, not listed, in no user's ``groups``."""
    gone = races.send("GET", f"/Groups/{gid}")
    tally.expect(gone.status == 404, f"the deleted group answers {gone}")
    listed = races.ok("GET", "/Groups?excludedAttributes=members&count=1000").body["Resources"]
    tally.expect(all(g["id"] != gid for g in listed), f"the deleted group {gid} is still listed")
    for uid in uids:
        tally.expect(gid not in groups_of(races, uid), f"user {uid} still in deleted group {gid}")


# -- (e) lock order: users and groups changed together -----------------------------------------


def deadlock_refusal_or(*statuses: int) -> set[int]:
    """What a request of a lock-order race may answer: ``statuses`` only.

    Every writer takes group rows, then people in id order, and a deadlock is run again:
    a 409 here would mean the lock order broke (it was 35 deadlocks in 312 answers
    before the one lock order).
    """
    return set(statuses)


def test_a_user_delete_racing_group_patches_of_that_user(races: RaceClient, tally: Tally):
    for round_ in range(ROUNDS):
        victim = new_user(races, races.email(f"deleted{round_}.victim")).body["id"]
        other = new_user(races, races.email(f"deleted{round_}.bystander")).body["id"]
        gids = [
            new_group(races, f"Victim {round_}.{g}", [victim] if g < 2 else []) for g in range(3)
        ]
        calls = [Call("DELETE", f"/Users/{victim}")]
        # Adding a user deleted a moment before is a 400: "not a user of this organization".
        allowed = [deadlock_refusal_or(204)]
        for gid in gids:
            calls += [
                Call("PATCH", f"/Groups/{gid}", add_members(victim, other)),
                Call("PATCH", f"/Groups/{gid}", remove_member(victim)),
                Call("PATCH", f"/Groups/{gid}", add_members(victim)),
                Call("PATCH", f"/Groups/{gid}", remove_member(other)),
            ]
            allowed += [deadlock_refusal_or(204, 400), deadlock_refusal_or(204)] * 2

        answers = fire(races, calls)

        check_statuses(tally, answers, allowed)
        for answer in answers:
            if answer.status == 400:
                tally.expect(answer.body.get("scimType") == "invalidValue", f"{answer}")
        deleted = answers[0].status == 204
        if deleted:
            tally.expect(races.send("GET", f"/Users/{victim}").status == 404, "victim still there")
            for gid in gids:
                tally.expect(
                    victim not in members_of(races, gid), f"deleted user still in group {gid}"
                )
        check_memberships_agree(tally, races, f"deleted{round_}.", gids)
    tally.check()


def test_group_member_replaces_racing_user_deactivations(races: RaceClient, tally: Tally):
    for round_ in range(ROUNDS):
        uids = [new_user(races, races.email(f"deact{round_}.{i}")).body["id"] for i in range(4)]
        gids = [new_group(races, f"Deact {round_}.{g}", uids[:2]) for g in range(2)]
        # Two replaces naming the users in opposite orders, and every user deactivated.
        lists = [uids, uids[::-1]]
        calls = [
            Call("PATCH", f"/Groups/{gid}", replace("members", [{"value": u} for u in members]))
            for gid, members in zip(gids, lists, strict=True)
        ]
        calls += [Call("PATCH", f"/Users/{u}", replace("active", False)) for u in uids]
        calls += [Call("PATCH", f"/Groups/{gids[0]}", remove_member(uids[0]))]

        answers = fire(races, calls)

        check_statuses(
            tally,
            answers,
            [deadlock_refusal_or(204 if c.path.startswith("/Groups/") else 200) for c in calls],
        )
        for answer in answers:
            if answer.path.startswith("/Users/") and answer.status == 200:
                active = races.ok("GET", answer.path).body["active"]
                tally.expect(active is False, f"{answer.path}: 200 to active=false, but {active}")
        replaced, removed = answers[1].status == 204, answers[-1].status == 204
        if replaced:
            tally.expect(
                members_of(races, gids[1]) == set(uids),
                f"group {gids[1]} replaced with all four users holds {members_of(races, gids[1])}",
                lost_update=True,
            )
        if answers[0].status == 204 and removed:
            tally.expect(
                members_of(races, gids[0]) in (set(uids), set(uids[1:])),
                f"group {gids[0]} holds {members_of(races, gids[0])}",
            )
        check_memberships_agree(tally, races, f"deact{round_}.", gids)
    tally.check()


# -- (f) member adds of different users to one group -------------------------------------------


def test_member_adds_of_different_users_all_land(races: RaceClient, tally: Tally):
    n = 16
    uids = [new_user(races, races.email(f"joiner{i}")).body["id"] for i in range(n)]
    for round_ in range(ROUNDS):
        gid = new_group(races, f"Joined {round_}")
        start = races.ok("GET", f"/Groups/{gid}").version

        answers = fire(races, [Call("PATCH", f"/Groups/{gid}", add_members(u)) for u in uids])

        check_statuses(tally, answers, [{200, 204}] * n)
        landed = {uids[i] for i, a in enumerate(answers) if a.status in (200, 204)}
        members = members_of(races, gid)
        tally.expect(
            landed <= members, f"answered 2xx but not members: {landed - members}", lost_update=True
        )
        versions = [a.version for a in answers if a.status in (200, 204)]
        tally.expect(
            len(set(versions)) == len(versions)
            and races.ok("GET", f"/Groups/{gid}").version == start + len(versions),
            f"group versions {sorted(versions)} from {start}",
            lost_update=True,
        )
        check_memberships_agree(tally, races, "joiner", [gid])
    tally.check()


# -- (g) creates with one unique key ------------------------------------------------------------


def check_one_created(tally: Tally, answers: list[Answer], listed: dict[str, t.Any]) -> None:
    statuses = Counter(a.status for a in answers)
    tally.expect(statuses == {201: 1, 409: len(answers) - 1}, f"statuses {dict(statuses)}")
    for answer in answers:
        if answer.status == 409:
            tally.expect(answer.body.get("scimType") == "uniqueness", f"{answer}")
    created = [a.body["id"] for a in answers if a.status == 201]
    found = [r["id"] for r in listed["Resources"]]
    tally.expect(found == created, f"created {created}, found {found}")


def test_creates_of_one_user_name_make_one_user(races: RaceClient, tally: Tally):
    n = 12
    for round_ in range(ROUNDS):
        name = races.email(f"Same{round_}.Person")
        spellings = [name, name.lower(), name.upper()]

        answers = fire(
            races, [Call("POST", "/Users", user_body(spellings[i % 3])) for i in range(n)]
        )

        check_statuses(tally, answers, [{201, 409}] * n)
        check_one_created(
            tally, answers, races.ok("GET", "/Users?filter=" + q(f'userName eq "{name}"')).body
        )
    tally.check()


def test_creates_of_one_group_name_make_one_group(races: RaceClient, tally: Tally):
    n = 12
    for round_ in range(ROUNDS):
        name = f"Same Group {round_}"

        spellings = [name if i % 2 else name.upper() for i in range(n)]
        answers = fire(races, [Call("POST", "/Groups", group_body(s)) for s in spellings])

        check_statuses(tally, answers, [{201, 409}] * n)
        check_one_created(
            tally, answers, races.ok("GET", "/Groups?filter=" + q(f'displayName eq "{name}"')).body
        )
    tally.check()


# -- (h) PUT racing PATCH of one user -----------------------------------------------------------

#: Attributes the PATCHes set and the PUTs leave out (a PUT clears them).
PATCHED = ["nickName", "userType", "preferredLanguage", "profileUrl", "timezone"]
PATCH_VALUES = {
    "nickName": "Nick",
    "userType": "Contractor",
    "preferredLanguage": "de",
    "profileUrl": "https://profiles.example.test/p",
    "timezone": "Asia/Tokyo",
}
PUTS = 3


def test_puts_racing_patches_of_one_user_serialize(races: RaceClient, tally: Tally):
    tracked = ["title", *PATCHED]
    for round_ in range(ROUNDS):
        user_name = races.email(f"putpatch{round_}")
        created = new_user(races, user_name)
        path = f"/Users/{created.body['id']}"

        answers = fire(
            races,
            [Call("PUT", path, user_body(user_name, title=f"Put {i}")) for i in range(PUTS)]
            + [Call("PATCH", path, replace(n, PATCH_VALUES[n])) for n in PATCHED],
        )

        check_statuses(tally, answers, [{200}] * len(answers))
        done = sorted(
            (i for i, a in enumerate(answers) if a.status == 200), key=lambda i: answers[i].version
        )
        versions = [answers[i].version for i in done]
        tally.expect(len(set(versions)) == len(versions), f"versions {versions}", lost_update=True)
        # Replay the successful requests in the order of their versions: each answer, and
        # the final state, must be what that serial order gives.
        state = {name: created.body.get(name) for name in tracked}
        for i in done:
            if i < PUTS:
                state = {name: None for name in tracked} | {"title": f"Put {i}"}
            else:
                state[PATCHED[i - PUTS]] = PATCH_VALUES[PATCHED[i - PUTS]]
            seen = {name: answers[i].body.get(name) for name in tracked}
            tally.expect(
                seen == state,
                f"{answers[i]}: {seen}, but in version order {state}",
                lost_update=True,
            )
        final = races.ok("GET", path).body
        got = {name: final.get(name) for name in tracked}
        tally.expect(got == state, f"final {got}; in version order: {state}", lost_update=True)
    tally.check()
