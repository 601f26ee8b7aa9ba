"""SPEC §2 rules 4-9: provisioning, update, deactivation, reactivation, password sync."""

from __future__ import annotations

import json
import typing as t

import pytest
from sqlalchemy import func
from sqlalchemy import select

from flask_okta_scim import Conflict
from flask_okta_scim import InvalidValue
from flask_okta_scim import signals
from tests.conftest import listen


@pytest.fixture
def acme(directory: t.Any) -> t.Any:
    with directory.atomic():
        return directory.create_organization("Acme")


@pytest.fixture
def globex(directory: t.Any) -> t.Any:
    with directory.atomic():
        return directory.create_organization("Globex")


def count(directory: t.Any, model: t.Any) -> int:
    return int(directory.session.scalar(select(func.count()).select_from(model)))


# -- rule 4: create -----------------------------------------------------------


def test_provision_creates_account_membership_and_identity(directory, acme, models):
    with listen(signals.user_provisioned) as heard, directory.atomic():
        identity, created = directory.provision(
            acme,
            user_name="Ann.Lee@Acme.example",
            display_name="Ann Lee",
            external_id="00u1",
            attributes={"name": {"givenName": "Ann"}},
        )
    assert created is True
    account = directory.account_of(identity)
    assert account.email == "Ann.Lee@acme.example"
    assert identity.user_name == "Ann.Lee@Acme.example"  # exactly as sent
    assert identity.active is True
    assert len(identity.id) == 36
    assert directory.member_role(acme, account) == "member"
    assert [kw["created_account"] for _, kw in heard] == [True]
    assert heard[0][1]["identity"] is identity
    assert directory.audit_log(acme)[0].action == "user.provision"


def test_provision_attaches_an_existing_account(directory, acme, globex):
    with directory.atomic():
        first, _ = directory.provision(globex, user_name="bob@example.com")
    with listen(signals.user_provisioned) as heard, directory.atomic():
        second, _ = directory.provision(acme, user_name="BOB@EXAMPLE.COM")
    assert directory.account_of(second).id == directory.account_of(first).id
    assert heard[0][1]["created_account"] is False
    assert {o.name for o in directory.organizations_of(directory.account_of(second))} == {
        "Acme",
        "Globex",
    }


def test_same_user_name_in_any_case_is_a_conflict(directory, acme, models):
    with directory.atomic():
        directory.provision(acme, user_name="carol@example.com")
    with pytest.raises(Conflict, match="already exists"), directory.atomic():
        directory.provision(acme, user_name="Carol@Example.com")
    assert count(directory, models.identity) == 1
    assert count(directory, models.account) == 1


def test_same_user_name_in_two_organizations_is_fine(directory, acme, globex, models):
    with directory.atomic():
        a, _ = directory.provision(acme, user_name="dan@example.com")
        b, _ = directory.provision(globex, user_name="dan@example.com")
    assert a.id != b.id
    assert count(directory, models.account) == 1


def test_user_name_must_be_an_email_unless_an_email_is_given(directory, acme, models):
    with pytest.raises(InvalidValue, match="not an email address"), directory.atomic():
        directory.provision(acme, user_name="erin")
    assert count(directory, models.identity) == 0
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="erin", email="erin@example.com")
    assert directory.account_of(identity).email == "erin@example.com"


def test_two_identities_cannot_share_one_account_in_one_organization(directory, acme):
    with directory.atomic():
        directory.provision(acme, user_name="fay", email="fay@example.com")
    with pytest.raises(Conflict, match="already provisioned"), directory.atomic():
        directory.provision(acme, user_name="fay.other", email="FAY@example.com")


def test_inactive_create_makes_an_identity_without_membership(directory, acme, models):
    with listen(signals.user_provisioned) as heard, directory.atomic():
        identity, _ = directory.provision(acme, user_name="gus@example.com", active=False)
    assert identity.active is False and identity.account_id is None
    assert count(directory, models.account) == 0
    assert heard == []


# -- rule 8: passwords ----------------------------------------------------------


def test_password_is_hashed_and_never_stored_or_logged_in_clear(directory, acme, models):
    secret = "correct horse battery staple"
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="hal@example.com", password=secret)
        directory.sync_password(identity, secret + "2")
    account = directory.account_of(identity)
    assert account.check_password(secret + "2")
    assert not account.check_password(secret)
    assert secret not in account.password_hash
    assert account.password_hash.startswith("scrypt:")
    stored = json.dumps([row.detail for row in directory.audit_log(acme)]) + json.dumps(
        identity.attributes
    )
    assert secret not in stored


def test_password_of_an_account_shared_with_another_org_is_not_changed(directory, acme, globex):
    with directory.atomic():
        mine, _ = directory.provision(globex, user_name="ivy@example.com", password="globex-pw")
    with directory.atomic():
        theirs, _ = directory.provision(acme, user_name="ivy@example.com", password="acme-pw")
        stored = directory.sync_password(theirs, "acme-pw-2")
    account = directory.account_of(mine)
    assert stored is False
    assert account.check_password("globex-pw")
    assert not account.check_password("acme-pw")
    assert not account.check_password("acme-pw-2")
    refused = [
        (r.action, r.detail["reason"], r.detail["fields"])
        for r in directory.audit_log(acme)
        if r.outcome == "not_applied"
    ]
    assert refused == [("user.update", "not_managed", ["password"])]


# -- rule 5 and 9: update ---------------------------------------------------------


def test_update_changes_identity_and_managed_account(directory, acme):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="jay@example.com", display_name="Jay")
        directory.verify_domain(acme, "example.com", None, by_operator=True)
    with listen(signals.user_updated) as heard, directory.atomic():
        changes = directory.update_identity(
            identity,
            user_name="jay.k@example.com",
            email="jay.k@example.com",
            display_name="Jay K",
        )
    account = directory.account_of(identity)
    assert changes == {"user_name", "email", "display_name"}
    assert (account.email, account.display_name) == ("jay.k@example.com", "Jay K")
    assert heard[0][1]["account_changes"] == {"email", "display_name"}
    assert identity.version == 2


def test_update_leaves_a_shared_account_profile_alone(directory, acme, globex):
    with directory.atomic():
        directory.provision(globex, user_name="kim@example.com", display_name="Kim")
        identity, _ = directory.provision(acme, user_name="kim@example.com")
    with listen(signals.user_updated) as heard, directory.atomic():
        directory.update_identity(
            identity, email="attacker@evil.example", display_name="Owned", password="x"
        )
    account = directory.account_of(identity)
    assert (account.email, account.display_name) == ("kim@example.com", "Kim")
    assert account.password_hash is None
    assert identity.email == "attacker@evil.example"  # the identity records what Okta sent
    assert heard[0][1]["account_changes"] == frozenset()


def test_a_sign_in_email_moves_only_into_a_domain_the_org_verified(directory, acme):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="jo@example.com", display_name="Jo")
    with listen(signals.user_updated) as heard, directory.atomic():
        directory.update_identity(identity, email="jo.b@example.com", display_name="Jo B")
    account = directory.account_of(identity)
    assert (account.email, account.display_name) == ("jo@example.com", "Jo B")
    assert heard[0][1]["account_changes"] == {"display_name"}
    (refused,) = [r for r in directory.audit_log(acme) if r.outcome == "not_applied"]
    assert refused.detail == {"reason": "email_domain_not_verified", "fields": ["email"]}


def test_update_to_another_accounts_email_is_a_conflict(directory, acme):
    with directory.atomic():
        directory.verify_domain(acme, "example.com", None, by_operator=True)
        directory.provision(acme, user_name="lee@example.com")
        identity, _ = directory.provision(acme, user_name="max@example.com")
    with pytest.raises(Conflict, match="Another person of this organization"), directory.atomic():
        directory.update_identity(identity, email="LEE@example.com")
    assert directory.account_of(identity).email == "max@example.com"


def test_update_to_another_identitys_user_name_is_a_conflict(directory, acme):
    with directory.atomic():
        directory.provision(acme, user_name="ned@example.com")
        identity, _ = directory.provision(acme, user_name="oli@example.com")
    with pytest.raises(Conflict), directory.atomic():
        directory.update_identity(identity, user_name="NED@example.com")


def test_update_with_nothing_new_sends_nothing(directory, acme):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="pat@example.com", display_name="Pat")
    with listen(signals.user_updated) as heard, directory.atomic():
        assert directory.update_identity(identity, display_name="Pat") == frozenset()
    assert heard == []


# -- rule 6: deactivate -------------------------------------------------------------


def test_deactivate_detaches_and_deletes_an_orphan_account(directory, acme, models):
    directory.account_removal = "delete"
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="quinn@example.com")
        account = directory.account_of(identity)
        team = directory.create_team(acme, "Ops", members=[account])
    account_id = account.id
    order: list[str] = []
    with (
        listen(signals.user_detached) as detached,
        listen(signals.user_deleted) as deleted,
        listen(signals.team_members_changed) as team_changes,
    ):
        for sig in (signals.user_detached, signals.team_members_changed, signals.user_deleted):
            sig.connect(lambda s, _n=sig.name, **kw: order.append(_n), weak=False)
        with directory.atomic():
            directory.deactivate(identity)
    for sig in (signals.user_detached, signals.team_members_changed, signals.user_deleted):
        for receiver in list(sig.receivers.values()):
            sig.disconnect(receiver)
    assert order == ["user-detached", "team-members-changed", "user-deleted"]
    assert detached[0][1]["teams"] == [team]
    assert team_changes[0][1]["removed"][0].id == account_id
    assert deleted[0][1]["account"].id == account_id
    assert directory.session.get(models.account, account_id) is None
    assert directory.team_members(team) == []
    again = directory.get_identity(acme, identity.id)
    assert again is not None and again.active is False and again.account_id is None


def test_deactivate_keeps_an_account_that_belongs_to_another_org(directory, acme, globex):
    with directory.atomic():
        kept, _ = directory.provision(globex, user_name="rae@example.com")
        account = directory.account_of(kept)
        globex_team = directory.create_team(globex, "G", members=[account])
        identity, _ = directory.provision(acme, user_name="rae@example.com")
        acme_team = directory.create_team(acme, "A", members=[account])
    with listen(signals.user_deleted) as deleted, directory.atomic():
        directory.deactivate(identity)
    assert deleted == []
    assert directory.organizations_of(account) == [globex]
    assert directory.teams_of(account) == [globex_team]
    assert directory.team_members(acme_team) == []


def test_deactivating_twice_does_nothing_the_second_time(directory, acme):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="sam@example.com")
        directory.deactivate(identity)
    with listen(signals.user_detached) as heard, directory.atomic():
        directory.deactivate(identity)
    assert heard == []


def test_update_active_false_deactivates(directory, acme):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="tia@example.com")
    with listen(signals.user_detached) as heard, directory.atomic():
        directory.update_identity(identity, active=False, display_name="Tia")
    assert identity.active is False and identity.display_name == "Tia"
    assert len(heard) == 1


# -- rule 7: reactivate ---------------------------------------------------------------


def test_reactivate_recreates_a_deleted_account_on_the_same_id(directory, acme, models):
    directory.account_removal = "delete"
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="uma@example.com")
        scim_id = identity.id
        directory.deactivate(identity)
    assert count(directory, models.account) == 0
    with listen(signals.user_reactivated) as heard, directory.atomic():
        directory.update_identity(identity, active=True)
    assert identity.id == scim_id and identity.active is True
    account = directory.account_of(identity)
    assert account.email == "uma@example.com"
    assert directory.member_role(acme, account) == "member"
    assert heard[0][1]["created_account"] is True


def test_create_with_a_deactivated_user_name_reactivates_it(directory, acme, globex):
    with directory.atomic():
        directory.provision(globex, user_name="vic@example.com")
        identity, _ = directory.provision(acme, user_name="vic@example.com")
        directory.deactivate(identity)
    with listen(signals.user_reactivated) as heard, directory.atomic():
        again, created = directory.provision(acme, user_name="Vic@Example.com", display_name="Vic")
    assert (again.id, created) == (identity.id, False)
    assert again.user_name == "Vic@Example.com"
    assert heard[0][1]["created_account"] is False  # the Globex account was kept
    assert acme in directory.organizations_of(directory.account_of(again))


def test_reactivating_an_active_identity_does_nothing(directory, acme):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="wes@example.com")
    with listen(signals.user_reactivated) as heard, directory.atomic():
        directory.reactivate(identity)
    assert heard == []


# -- membership outside SCIM ---------------------------------------------------------


def test_removing_a_provisioned_member_deactivates_the_identity(directory, acme):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="xia@example.com")
        account = directory.account_of(identity)
        directory.remove_member(acme, account)
    assert identity.active is False
    assert directory.member_role(acme, account) is None
    assert directory.find_account("xia@example.com") is not None  # no delete_orphan


def test_tenant_isolation_of_identity_lookups(directory, acme, globex):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="yan@example.com")
    assert directory.get_identity(globex, identity.id) is None
    assert directory.find_identity(globex, "yan@example.com") is None
    assert directory.get_identity(acme, identity.id) is identity
