"""SCIM provisioning into the legacy host, over HTTP, as Okta sends it.

Every write is read back with plain SQL on the host's own tables: ``users``,
``memberships`` and ``group_memberships`` are the one source of truth, for the
extension and for the host's own relationships and queries.
"""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from werkzeug.security import check_password_hash

from tests.conftest import ScimClient
from tests.conftest import okta_cli_ok
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.legacy_host.app import Group
from tests.legacy_host.app import User
from tests.legacy_host.app import db
from tests.legacy_host.conftest import ALICE_PASSWORD
from tests.legacy_host.conftest import Legacy
from tests.legacy_host.conftest import execute
from tests.legacy_host.conftest import group_members
from tests.legacy_host.conftest import memberships
from tests.legacy_host.conftest import provisioning
from tests.legacy_host.conftest import scalar
from tests.legacy_host.conftest import sign_in
from tests.legacy_host.conftest import sql

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def scim(legacy_app: Flask, legacy: Legacy) -> ScimClient:
    """Acme's Okta, provisioning."""
    return provisioning(legacy_app, legacy.acme)


def create_user(scim: ScimClient, email: str, **extra: t.Any) -> str:
    r = scim.post("/Users", user_body(email, **extra))
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(str, r.get_json(force=True)["id"])


def members_patch(op: str, *ids: str) -> dict[str, t.Any]:
    return patch_body(
        {"op": op, "path": "members", "value": [{"value": i, "display": i} for i in ids]}
    )


def group_id_by_name(scim: ScimClient, name: str) -> dict[str, t.Any]:
    r = scim.get(f'/Groups?filter=displayName eq "{name}"')
    assert r.status_code == 200, r.get_data(as_text=True)
    found = r.get_json(force=True)["Resources"]
    assert len(found) == 1, found
    return t.cast(dict[str, t.Any], found[0])


def test_create_a_new_person_writes_users_and_memberships(legacy_app, legacy, scim):
    create_user(scim, "dave@acme.test", displayName="Dave Dunn")
    rows = sql(
        legacy_app,
        "SELECT id, full_name, pw_hash, deactivated_at FROM users WHERE email_address = :e",
        e="dave@acme.test",
    )
    assert len(rows) == 1
    dave, full_name, pw_hash, deactivated_at = rows[0]
    assert (full_name, deactivated_at) == ("Dave Dunn", None)
    assert memberships(legacy_app, legacy.acme)["dave@acme.test"] == "member"  # the default role
    assert sql(legacy_app, "SELECT account_id FROM memberships WHERE user_id = :u", u=dave) == [
        (legacy.acme,)
    ]
    # Okta's password, hashed in the host's column: the host's own sign-in accepts it.
    assert check_password_hash(pw_hash, "1mz050nq")
    r = sign_in(legacy_app.test_client(), "dave@acme.test", "1mz050nq")
    assert r.status_code == 200 and r.get_json() == {"id": dave}


def test_create_of_a_pre_existing_person_attaches_her_row(legacy_app, legacy, scim):
    """alice's row, role and password stay as the old app had them (Acme does not manage her
    account: it did not create it and verified no domain)."""
    alice_scim_id = create_user(scim, "alice@acme.test")
    assert scalar(legacy_app, "SELECT count(*) FROM users") == 3
    assert memberships(legacy_app, legacy.acme)["alice@acme.test"] == "owner"
    assert (
        scalar(legacy_app, "SELECT count(*) FROM memberships WHERE user_id = :u", u=legacy.alice)
        == 1
    )
    pw_hash = scalar(legacy_app, "SELECT pw_hash FROM users WHERE id = :u", u=legacy.alice)
    assert check_password_hash(pw_hash, ALICE_PASSWORD)
    got = scim.get(f"/Users/{alice_scim_id}").get_json(force=True)
    assert (got["userName"], got["active"]) == ("alice@acme.test", True)


def test_group_push_writes_the_hosts_groups_and_group_memberships(legacy_app, legacy, scim):
    dave = create_user(scim, "dave@acme.test")
    alice = create_user(scim, "alice@acme.test")
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Design", "members": []})
    assert r.status_code == 201, r.get_data(as_text=True)
    pushed = r.get_json(force=True)["id"]
    design = sql(legacy_app, "SELECT id, account_id FROM groups WHERE title = 'Design'")
    assert [row[1] for row in design] == [legacy.acme]
    design_id = design[0][0]

    r = scim.patch(f"/Groups/{pushed}", members_patch("add", dave, alice))
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    assert group_members(legacy_app, design_id) == ["alice@acme.test", "dave@acme.test"]
    with legacy_app.app_context():  # the host's own relationships see the same rows
        assert [u.email for u in db.session.get_one(Group, design_id).members] == [
            "alice@acme.test",
            "dave@acme.test",
        ]
        assert [g.name for g in db.session.get_one(User, legacy.alice).groups] == [
            "Engineering",
            "Design",
        ]

    r = scim.patch(
        f"/Groups/{pushed}", patch_body({"op": "remove", "path": f'members[value eq "{dave}"]'})
    )
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    assert group_members(legacy_app, design_id) == ["alice@acme.test"]
    # dave left the group, not the company
    assert "dave@acme.test" in memberships(legacy_app, legacy.acme)


def test_okta_links_the_pre_existing_group(legacy_app, legacy, scim):
    """*Link Group* on Engineering (made by the old app): its rows are kept and changed in
    place; no second group."""
    alice = create_user(scim, "alice@acme.test")
    bob = create_user(scim, "bob@acme.test")
    group = group_id_by_name(scim, "Engineering")
    assert [m["value"] for m in group.get("members", [])] == [alice]  # from group_memberships
    r = scim.patch(
        f"/Groups/{group['id']}",
        patch_body(
            {"op": "replace", "value": {"id": group["id"], "displayName": "Engineering"}},
            {"op": "add", "path": "members", "value": [{"value": bob}]},
        ),
    )
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    assert sql(legacy_app, "SELECT id FROM groups WHERE title = 'Engineering'") == [
        (legacy.engineering,)
    ]
    assert group_members(legacy_app, legacy.engineering) == ["alice@acme.test", "bob@acme.test"]
    # Push Now: Okta's member list is the group's from now on.
    r = scim.patch(f"/Groups/{group['id']}", members_patch("replace", bob))
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    assert group_members(legacy_app, legacy.engineering) == ["bob@acme.test"]
    assert memberships(legacy_app, legacy.acme) == {
        "alice@acme.test": "owner",
        "bob@acme.test": "member",
    }


def test_scim_reads_what_the_host_wrote(legacy_app, legacy, scim):
    """The host adds bob to Engineering with its own SQL and renames a group: Okta's next
    GET sees both."""
    alice = create_user(scim, "alice@acme.test")
    bob = create_user(scim, "bob@acme.test")
    execute(
        legacy_app,
        "INSERT INTO group_memberships (group_id, user_id) VALUES (:g, :u)",
        g=legacy.engineering,
        u=legacy.bob,
    )
    group = group_id_by_name(scim, "Engineering")
    assert sorted(m["value"] for m in group["members"]) == sorted([alice, bob])
    r = scim.get("/Users?startIndex=1&count=100")
    assert r.status_code == 200
    listed = {u["userName"]: u["active"] for u in r.get_json(force=True)["Resources"]}
    assert listed == {"alice@acme.test": True, "bob@acme.test": True}


def test_another_companys_token_sees_none_of_acmes_rows(legacy_app, legacy, scim):
    create_user(scim, "dave@acme.test")
    globex = provisioning(legacy_app, legacy.globex)
    r = globex.get('/Groups?filter=displayName eq "Engineering"')
    assert r.status_code == 200 and r.get_json(force=True)["totalResults"] == 0
    r = globex.get('/Users?filter=userName eq "dave@acme.test"')
    assert r.get_json(force=True)["totalResults"] == 0
    assert memberships(legacy_app, legacy.globex) == {"gina@globex.test": "owner"}


def test_a_group_the_host_makes_with_its_own_code_is_a_scim_group(legacy_app, legacy, scim):
    """The host's own "new group" page adds a ``Group`` through its ORM session."""
    with legacy_app.app_context():
        db.session.add(Group(organization_id=legacy.acme, name="Support"))
        db.session.commit()
    assert group_id_by_name(scim, "support")["displayName"] == "Support"


def test_okta_deleting_a_pushed_group_quarantines_the_hosts_group(legacy_app, legacy, scim):
    """By default the linked Engineering is set aside: its ``group_memberships`` rows go (the
    members lose it at once), the ``groups`` row stays for a restore or the purge."""
    create_user(scim, "alice@acme.test")
    group = group_id_by_name(scim, "Engineering")
    r = scim.patch(f"/Groups/{group['id']}", members_patch("add"))
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    assert [row[1] for row in sql(legacy_app, "SELECT id, title FROM groups")] == ["Engineering"]
    assert sql(legacy_app, "SELECT id FROM group_memberships") == []


def test_deleting_a_pushed_group_deletes_the_hosts_rows(legacy_app, legacy, scim):
    """Acme chose ``delete``: Okta deletes the linked Engineering, the group and its
    ``group_memberships`` rows go, although the host's foreign keys to ``groups`` have no
    ``ON DELETE``."""
    okta_cli_ok(legacy_app, "org", "team-deletion", str(legacy.acme), "delete")
    create_user(scim, "alice@acme.test")
    group = group_id_by_name(scim, "Engineering")
    r = scim.patch(f"/Groups/{group['id']}", members_patch("add"))
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    r = scim.delete(f"/Groups/{group['id']}")
    assert r.status_code == 204, r.get_data(as_text=True)
    assert sql(legacy_app, "SELECT id FROM groups") == []
    assert sql(legacy_app, "SELECT id FROM group_memberships") == []
    assert memberships(legacy_app, legacy.acme) == {
        "alice@acme.test": "owner",
        "bob@acme.test": "member",
    }


def test_okta_changes_a_pre_existing_persons_row_only_once_acme_manages_it(
    legacy_app, legacy, scim
):
    """alice's account predates Acme's Okta: her name and password are the host's until Acme
    verifies acme.test. The host's own password survives the verification."""
    alice = create_user(scim, "alice@acme.test")
    change = patch_body(
        {"op": "replace", "value": {"displayName": "Alice From Okta", "password": "0kta-Pass"}}
    )
    assert scim.patch(f"/Users/{alice}", change).status_code == 200
    name, pw_hash = sql(
        legacy_app, "SELECT full_name, pw_hash FROM users WHERE id = :u", u=legacy.alice
    )[0]
    assert name == "Alice Archer" and check_password_hash(pw_hash, ALICE_PASSWORD)

    okta_cli_ok(legacy_app, "domain", "add", str(legacy.acme), "acme.test")
    okta_cli_ok(legacy_app, "domain", "verify", "--by-operator", str(legacy.acme), "acme.test")
    pw_hash = scalar(legacy_app, "SELECT pw_hash FROM users WHERE id = :u", u=legacy.alice)
    assert check_password_hash(pw_hash, ALICE_PASSWORD)
    change = patch_body(
        {"op": "replace", "value": {"displayName": "Alice Okta-Archer", "password": "0kta-Pass"}}
    )
    assert scim.patch(f"/Users/{alice}", change).status_code == 200
    name, pw_hash = sql(
        legacy_app, "SELECT full_name, pw_hash FROM users WHERE id = :u", u=legacy.alice
    )[0]
    assert name == "Alice Okta-Archer" and check_password_hash(pw_hash, "0kta-Pass")
    client = legacy_app.test_client()
    assert sign_in(client, "alice@acme.test", "0kta-Pass").get_json() == {"id": legacy.alice}


def test_people_okta_never_provisioned_are_not_scim_users(legacy_app, legacy, scim):
    """GET /Users lists the people Acme's Okta provisioned: the old members are in
    ``memberships`` but not SCIM users until Okta creates (attaches) them."""
    r = scim.get("/Users")
    assert r.status_code == 200 and r.get_json(force=True)["totalResults"] == 0
    create_user(scim, "bob@acme.test")
    r = scim.get('/Users?filter=userName eq "BOB@acme.test"')
    assert [u["userName"] for u in r.get_json(force=True)["Resources"]] == ["bob@acme.test"]
