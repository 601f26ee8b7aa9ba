"""The host's own credential changes (password reset, email change) under directory rule 9:
only the managing organization, or the person when nobody manages the account."""

from __future__ import annotations

import typing as t

import pytest

from flask_okta_scim import Conflict
from flask_okta_scim import NotManaged
from flask_okta_scim import signals
from tests.conftest import listen


@pytest.fixture
def orgs(directory: t.Any) -> tuple[t.Any, t.Any]:
    with directory.atomic():
        acme = directory.create_organization("Acme")
        globex = directory.create_organization("Globex")
        directory.verify_domain(acme, "acme.example", None, by_operator=True)
    return acme, globex


def test_the_person_changes_the_password_of_an_unmanaged_account(directory, orgs):
    with directory.atomic():
        account, _ = directory.ensure_account("solo@elsewhere.example")
        account.set_password("old")
    epoch = directory.credentials_epoch(account.id)
    with directory.atomic():
        directory.change_password(account, "new")
    assert account.check_password("new")
    assert directory.credentials_epoch(account.id) != epoch  # other sessions end
    assert directory.password_organization_id(account) is None


def test_nobody_but_the_manager_changes_a_managed_accounts_password(directory, orgs):
    acme, globex = orgs
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="ann@acme.example", password="acme-pw")
        directory.provision(globex, user_name="ann@acme.example")
    account = directory.account_of(identity)
    for organization in (None, globex):
        with pytest.raises(NotManaged), directory.atomic():
            directory.change_password(account, "hijack", organization=organization)
        assert account.check_password("acme-pw")
    with directory.atomic():
        directory.change_password(account, "reset by acme", organization=acme)
    assert account.check_password("reset by acme")
    assert directory.password_organization_id(account) == acme.id


def test_keeping_other_sessions_is_a_choice(directory, orgs):
    with directory.atomic():
        account, _ = directory.ensure_account("solo@elsewhere.example")
    epoch = directory.credentials_epoch(account.id)
    with directory.atomic():
        directory.change_password(account, "new", end_sessions=False)
    assert directory.credentials_epoch(account.id) == epoch


def test_an_email_moves_into_a_verified_domain_only_by_its_organization(directory, orgs):
    _, globex = orgs
    with directory.atomic():
        solo, _ = directory.ensure_account("solo@elsewhere.example")
        created, _ = directory.provision(globex, user_name="gil@globex.example")
    with pytest.raises(NotManaged, match="belongs to an organization"), directory.atomic():
        directory.change_email(solo, "ceo@acme.example")  # squatting Acme's domain
    assert solo.email == "solo@elsewhere.example"
    globex_account = directory.account_of(created)
    with pytest.raises(NotManaged, match="domain it verified"), directory.atomic():
        directory.change_email(globex_account, "gil@gmail.example", organization=globex)
    with directory.atomic():
        directory.change_email(solo, "solo@new.example")
    assert solo.email == "solo@new.example"


def test_an_email_change_into_the_managers_domain_keeps_it_the_manager(directory, orgs):
    acme, _ = orgs
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="bo@acme.example")
    account = directory.account_of(identity)
    with listen(signals.account_management_changed) as heard, directory.atomic():
        directory.change_email(account, "bo.b@acme.example", organization=acme)
    assert account.email == "bo.b@acme.example"
    assert directory.managing_organization_id(account) == acme.id
    assert heard == []


def test_a_taken_email_is_a_conflict(directory, orgs):
    with directory.atomic():
        first, _ = directory.ensure_account("one@elsewhere.example")
        directory.ensure_account("two@elsewhere.example")
    with pytest.raises(Conflict), directory.atomic():
        directory.change_email(first, "TWO@elsewhere.example")
    assert first.email == "one@elsewhere.example"
