"""SPEC §2 rule 3: just-in-time provisioning by pre-approved team domains."""

from __future__ import annotations

import typing as t

import pytest

from flask_okta_scim import JitRefused
from flask_okta_scim import signals
from tests.conftest import listen


@pytest.fixture
def acme(directory: t.Any) -> t.Any:
    with directory.atomic():
        org = directory.create_organization("Acme")
        ops = directory.create_team(org, "Ops")
        directory.add_team_domain(ops, "acme.example")
        eng = directory.create_team(org, "Eng")
        directory.add_team_domain(eng, "ACME.example")
        directory.add_team_domain(eng, "eng.acme.example")
        directory.create_team(org, "Sales")
    return org


def test_jit_admits_into_the_org_and_every_approving_team(directory, acme):
    with listen(signals.user_jit_provisioned) as heard, directory.atomic():
        account = directory.jit(acme, "Zoe@ACME.example", display_name="Zoe")
    assert account.email == "Zoe@acme.example"
    assert directory.member_role(acme, account) == "member"
    assert [team.name for team in directory.teams_of(account)] == ["Ops", "Eng"]
    assert heard[0][1]["created_account"] is True
    assert [team.name for team in heard[0][1]["teams"]] == ["Ops", "Eng"]


def test_a_subdomain_is_its_own_domain(directory, acme):
    with directory.atomic():
        account = directory.jit(acme, "ann@eng.acme.example")
    assert [team.name for team in directory.teams_of(account)] == ["Eng"]


def test_jit_is_refused_when_no_team_approves_the_domain(directory, acme):
    with pytest.raises(JitRefused) as refused, directory.atomic():
        directory.jit(acme, "mallory@evil.example")
    assert refused.value.reason == JitRefused.DOMAIN_NOT_APPROVED
    assert directory.find_account("mallory@evil.example") is None
    # atomic() rolled everything back, the refusal's audit row included
    assert [r for r in directory.audit_log(acme) if r.action == "user.jit"] == []


def test_a_refusal_is_audited_when_the_caller_keeps_it(directory, acme):
    try:
        directory.jit(acme, "mallory@evil.example")
    except JitRefused:
        directory.session.commit()  # the SSO layer commits the audit of a refusal
    row = directory.audit_log(acme)[0]
    assert (row.action, row.outcome, row.detail["reason"]) == (
        "user.jit",
        "refused",
        "domain_not_approved",
    )


def test_jit_never_readmits_a_person_deactivated_by_scim(directory, acme):
    with directory.atomic():
        identity, _ = directory.provision(acme, user_name="ben@acme.example")
        directory.deactivate(identity)
    with pytest.raises(JitRefused) as refused, directory.atomic():
        directory.jit(acme, "BEN@acme.example")
    assert refused.value.reason == JitRefused.DEACTIVATED
    account = directory.find_account("ben@acme.example")
    assert directory.is_disabled(account) and directory.organizations_of(account) == []


def test_jit_never_admits_an_account_another_org_manages(directory, acme):
    with directory.atomic():
        other = directory.create_organization("Globex")
        identity, _ = directory.provision(other, user_name="cy@acme.example", password="pw")
    with (
        listen(signals.user_jit_provisioned) as heard,
        pytest.raises(JitRefused) as refused,
        directory.atomic(),
    ):
        directory.jit(acme, "cy@acme.example", display_name="Someone Else")
    assert refused.value.reason == JitRefused.NOT_MANAGED
    account = directory.account_of(identity)
    assert account.check_password("pw") and account.display_name is None
    assert heard == []
    assert [o.name for o in directory.organizations_of(account)] == ["Globex"]


def test_jit_admits_an_account_of_a_domain_the_org_verified(directory, acme):
    with directory.atomic():
        other = directory.create_organization("Globex")
        identity, _ = directory.provision(other, user_name="cy@acme.example", password="pw")
    with directory.atomic():
        directory.verify_domain(acme, "acme.example", None, by_operator=True)
    account = directory.account_of(identity)
    assert account.password_hash is None  # Globex's password went with its management
    with listen(signals.user_jit_provisioned) as heard, directory.atomic():
        assert directory.jit(acme, "cy@acme.example") is account
    assert heard[0][1]["created_account"] is False
    assert [o.name for o in directory.organizations_of(account)] == ["Acme", "Globex"]


def test_jit_refuses_a_domain_another_org_verified(directory, acme):
    with directory.atomic():
        other = directory.create_organization("Globex")
        directory.verify_domain(other, "acme.example", None, by_operator=True)
    with pytest.raises(JitRefused) as refused, directory.atomic():
        directory.jit(acme, "new@acme.example")
    assert refused.value.reason == JitRefused.DOMAIN_VERIFIED_ELSEWHERE
    assert directory.find_account("new@acme.example") is None


def test_jit_for_a_member_changes_nothing(directory, acme):
    with directory.atomic():
        account, _ = directory.ensure_account("dee@elsewhere.example")
        directory.add_member(acme, account)
    with listen(signals.user_jit_provisioned) as heard, directory.atomic():
        assert directory.jit(acme, "dee@elsewhere.example") is account
    assert heard == []
    assert directory.teams_of(account) == []
