"""The mass-deprovisioning guard (issue 14): past a threshold of deactivations or team deletions
in the window, destructive SCIM changes are held (answered as done, not applied) until an admin
releases them (applied in order, each once) or discards them (never applied)."""

from __future__ import annotations

import json
import threading
import typing as t
import urllib.request

import pytest
from flask import Flask
from sqlalchemy import select

from flask_okta_scim import signals
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import OKTA_HEADERS
from tests.conftest import ScimClient
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.scim_api.test_groups import new_group

THREE = {
    "OKTA_SCIM_GUARD_DEACTIVATIONS": 3,
    "OKTA_SCIM_GUARD_DEACTIVATION_PERCENT": 0,
    "OKTA_SCIM_GUARD_TEAM_DELETIONS": 2,
}


def people(scim: ScimClient, n: int, prefix: str = "p") -> list[str]:
    return [
        scim.post("/Users", user_body(f"{prefix}{i}@acme.example")).get_json(force=True)["id"]
        for i in range(n)
    ]


def deactivate(scim: ScimClient, scim_id: str) -> t.Any:
    return scim.patch(
        f"/Users/{scim_id}", patch_body({"op": "replace", "value": {"active": False}})
    )


def active(app: Flask, scim_id: str) -> bool:
    with app.app_context():
        return bool(db.session.get(okta.models.identity, scim_id).active)


def held(app: Flask, *flags: str) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads(okta_cli_ok(app, "held", "list", "Acme", *flags)))


def actions(app: Flask, kind: str) -> list[dict[str, t.Any]]:
    with app.app_context():
        directory = okta.directory()
        rows = directory.audit_log(directory.get_organization("Acme"), kind=kind, limit=1000)
        return [
            {"action": r.action, "target": r.target_id, **(r.detail or {})} for r in reversed(rows)
        ]


@pytest.mark.app_config(**THREE)
def test_a_burst_of_deactivations_trips_the_guard_at_the_threshold(app, scim):
    ids = people(scim, 6)
    for scim_id in ids[:3]:
        assert deactivate(scim, scim_id).status_code == 200
        assert not active(app, scim_id)
    tripped: list[tuple[str, str]] = []

    def heard(sender: t.Any, *, reason: str, change: t.Any, **kwargs: t.Any) -> None:
        tripped.append((reason, change.resource_id))

    signals.provisioning_held.connect(heard)
    try:
        answer = deactivate(scim, ids[3])
        also = deactivate(scim, ids[4])
    finally:
        signals.provisioning_held.disconnect(heard)
    # Okta is told it is done...
    assert answer.status_code == 200 and answer.get_json(force=True)["active"] is False
    assert also.status_code == 200
    # ...but nothing happened, and the guard tripped once, on the fourth.
    assert active(app, ids[3]) and active(app, ids[4])
    assert len(tripped) == 1
    assert "4 deactivations in 60 minutes (more than 3)" in tripped[0][0]
    assert tripped[0][1] == ids[3]
    state = held(app)
    assert state["held"] is True
    assert [(c["method"], c["resource_id"]) for c in state["changes"]] == [
        ("PATCH", ids[3]),
        ("PATCH", ids[4]),
    ]
    # Non-destructive changes keep flowing.
    body = scim.get(f"/Users/{ids[5]}").get_json(force=True)
    body["displayName"] = "Still Here"
    assert scim.put(f"/Users/{ids[5]}", body).status_code == 200
    assert scim.get(f"/Users/{ids[5]}").get_json(force=True)["displayName"] == "Still Here"
    assert [a["action"] for a in actions(app, "provisioning")] == [
        "provisioning.held",
        "provisioning.hold",
        "provisioning.hold",
    ]


@pytest.mark.app_config(**THREE)
def test_release_applies_held_changes_once_in_order_and_restarts_the_window(app, scim):
    ids = people(scim, 6)
    for scim_id in ids[:4]:
        deactivate(scim, scim_id)  # the fourth is held
    # A later change to the same person waits behind the held one, even a harmless one.
    later = scim.patch(
        f"/Users/{ids[3]}", patch_body({"op": "replace", "value": {"displayName": "Renamed"}})
    )
    assert later.status_code == 200
    assert [c["resource_id"] for c in held(app)["changes"]] == [ids[3], ids[3]]
    result = okta_cli(app, "held", "release", "Acme")
    assert result.exit_code == 0, result.stderr
    released = json.loads(result.stdout)
    assert [(c["resource_id"], c["outcome"]) for c in released] == [
        (ids[3], "applied"),
        (ids[3], "applied"),
    ]
    assert "Nothing is held any more" in result.stderr
    user = scim.get(f"/Users/{ids[3]}").get_json(force=True)
    assert user["active"] is False and user["displayName"] == "Renamed"
    deactivated = [a["target"] for a in actions(app, "user.deactivate")]
    assert deactivated.count(ids[3]) == 1  # exactly once
    assert held(app)["held"] is False and held(app)["counts"]["deactivations"] == 0
    # The window started again: the next deactivations apply.
    assert deactivate(scim, ids[4]).status_code == 200 and not active(app, ids[4])
    # Releasing again does nothing.
    assert json.loads(okta_cli_ok(app, "held", "release", "Acme")) == []


@pytest.mark.app_config(**THREE)
def test_discarded_changes_are_never_applied(app, scim):
    ids = people(scim, 5)
    for scim_id in ids:
        deactivate(scim, scim_id)
    assert len(held(app)["changes"]) == 2
    refused = okta_cli(app, "held", "discard", "Acme")
    assert refused.exit_code == 1 and "--yes" in refused.stderr
    okta_cli_ok(app, "held", "discard", "Acme", "--yes")
    assert active(app, ids[3]) and active(app, ids[4])
    assert okta_cli_ok(app, "held", "release", "Acme").strip() == "[]"
    assert active(app, ids[3]) and active(app, ids[4])
    assert [c["status"] for c in held(app, "--all")["changes"]] == ["discarded", "discarded"]
    assert held(app)["held"] is False


@pytest.mark.app_config(OKTA_SCIM_GUARD_DEACTIVATIONS=0, OKTA_SCIM_GUARD_DEACTIVATION_PERCENT=10)
def test_the_percentage_threshold_never_trips_below_twenty(app, scim):
    ids = people(scim, 30)
    for scim_id in ids[:20]:
        assert deactivate(scim, scim_id).status_code == 200
    assert all(not active(app, i) for i in ids[:20])
    deactivate(scim, ids[20])  # 21 > max(20, 10% of 30)
    assert active(app, ids[20]) and held(app)["held"] is True


@pytest.mark.app_config(OKTA_SCIM_GUARD_DEACTIVATIONS=0, OKTA_SCIM_GUARD_DEACTIVATION_PERCENT=20)
def test_the_percentage_threshold_of_a_big_organization(app, scim):
    ids = people(scim, 120)  # 20% of the 120 there were: 24
    for scim_id in ids[:24]:
        assert deactivate(scim, scim_id).status_code == 200
    deactivate(scim, ids[24])
    assert active(app, ids[24]) and held(app)["held"] is True


@pytest.mark.app_config(**THREE)
def test_entra_s_delete_counts_as_a_deactivation(app, scim):
    ids = people(scim, 4)
    for scim_id in ids[:3]:
        assert scim.delete(f"/Users/{scim_id}").status_code == 204
    assert scim.delete(f"/Users/{ids[3]}").status_code == 204
    assert scim.get(f"/Users/{ids[3]}").status_code == 200  # not applied
    assert [c["method"] for c in held(app)["changes"]] == ["DELETE"]


@pytest.mark.app_config(**THREE)
def test_team_deletions_past_the_threshold_are_held(app, scim):
    groups = [new_group(scim, f"Team {n}") for n in range(3)]
    for group in groups[:2]:
        assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.delete(f"/Groups/{groups[2]['id']}").status_code == 204
    assert scim.get(f"/Groups/{groups[2]['id']}").status_code == 200  # still there
    assert held(app)["changes"][0]["resource"] == "Groups"
    okta_cli_ok(app, "held", "release", "Acme")
    assert scim.get(f"/Groups/{groups[2]['id']}").status_code == 404
    assert [a["name"] for a in actions(app, "team.quarantine")] == ["Team 0", "Team 1", "Team 2"]


@pytest.mark.app_config(**THREE)
def test_a_held_change_never_stores_a_password(app, scim):
    ids = people(scim, 4)
    for scim_id in ids[:3]:
        deactivate(scim, scim_id)
    body = scim.get(f"/Users/{ids[3]}").get_json(force=True)
    body.update(active=False, password="Held-Secret-9")
    assert scim.put(f"/Users/{ids[3]}", body).status_code == 200
    scim.patch(
        f"/Users/{ids[3]}",
        patch_body({"op": "replace", "path": "password", "value": "Held-Secret-10"}),
    )
    state = held(app)
    assert [c["password_dropped"] for c in state["changes"]] == [True, True]
    with app.app_context():
        rows = db.session.scalars(select(okta.models.held_change)).all()
        stored = json.dumps([r.body for r in rows])
    assert "Held-Secret" not in stored and "active" in stored


@pytest.mark.app_config(
    OKTA_SCIM_GUARD_DEACTIVATIONS=50,
    OKTA_SCIM_GUARD_DEACTIVATION_PERCENT=20,
    OKTA_SCIM_GUARD_TEAM_DELETIONS=10,
)
def test_thresholds_per_organization(app, scim):
    assert held(app)["thresholds"] == {
        "window_minutes": 60,
        "deactivations": 50,
        "deactivation_percent": 20,
        "team_deletions": 10,
    }
    got = json.loads(
        okta_cli_ok(
            app, "held", "guard", "Acme", "--deactivations", "2", "--deactivation-percent", "0"
        )
    )
    assert got["deactivations"] == 2 and got["team_deletions"] == 10
    got = json.loads(okta_cli_ok(app, "held", "guard", "Acme", "--team-deletions", "0"))
    assert got["deactivations"] == 2 and got["team_deletions"] == 0
    ids = people(scim, 3)
    for scim_id in ids:
        deactivate(scim, scim_id)
    assert active(app, ids[2]) and not active(app, ids[1])
    got = json.loads(okta_cli_ok(app, "held", "guard", "Acme", "--default"))
    assert got["deactivations"] == 50


@pytest.mark.postgresql_only
@pytest.mark.app_config(**THREE)
def test_concurrent_deactivations_do_not_overshoot_the_threshold(app, scim, scim_org, live):
    ids = people(scim, 10)
    statuses: list[int] = []

    def send(scim_id: str) -> None:
        body = json.dumps(patch_body({"op": "replace", "value": {"active": False}})).encode()
        req = urllib.request.Request(
            f"{live}/scim/v2/Users/{scim_id}",
            data=body,
            method="PATCH",
            headers={
                **OKTA_HEADERS,
                "Authorization": f"Bearer {scim_org[1]}",
                "Content-Type": "application/scim+json",
            },
        )
        with urllib.request.urlopen(req, timeout=60) as answer:
            statuses.append(answer.status)

    threads = [threading.Thread(target=send, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200] * 10
    applied = [i for i in ids if not active(app, i)]
    assert len(applied) == 3
    assert len(held(app)["changes"]) == 7


@pytest.mark.app_config(WTF_CSRF_ENABLED=True, **THREE)
def test_the_admin_console_shows_held_changes_and_applies_them(app, scim):
    from tests.app.test_admin_console import PREFIX
    from tests.app.test_admin_console import post
    from tests.app.test_admin_console import signed_in

    ids = people(scim, 6)
    for scim_id in ids[:5]:
        deactivate(scim, scim_id)  # the fourth and fifth are held
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.get_organization("Acme")
        ada, _ = directory.ensure_account("ada@acme.example")
        ada.set_password("ada-pw")
        directory.add_member(org, ada, role="admin")
        org_id = org.id
    admin = signed_in(app, "ada@acme.example")
    screen = f"{PREFIX}/{org_id}/provisioning"
    page = admin.get(screen).data.decode()
    assert "Held changes" in page and "more than 3" in page
    assert "p3@acme.example" in page and "p4@acme.example" in page
    unconfirmed = post(admin, f"{screen}/held/discard", screen)
    assert unconfirmed.status_code == 400 and active(app, ids[3])
    applied = post(admin, f"{screen}/held/release", screen)
    assert applied.status_code == 302, applied.data
    assert not active(app, ids[3]) and not active(app, ids[4])
    assert "Held changes" not in admin.get(screen).data.decode()
    assert [a["action"] for a in actions(app, "provisioning")][-3:] == [
        "provisioning.release",
        "provisioning.release",
        "provisioning.resumed",
    ]


@pytest.mark.app_config(**THREE)
def test_releasing_one_change_brings_the_earlier_ones_of_that_person(app, scim):
    ids = people(scim, 6)
    for scim_id in ids[:5]:
        deactivate(scim, scim_id)  # the fourth and fifth are held
    scim.patch(
        f"/Users/{ids[3]}", patch_body({"op": "replace", "value": {"displayName": "Renamed"}})
    )
    changes = held(app)["changes"]
    rename = next(
        c
        for c in changes
        if c["method"] == "PATCH" and c["resource_id"] == ids[3] and c is not changes[0]
    )
    released = json.loads(okta_cli_ok(app, "held", "release", "Acme", rename["id"]))
    assert [(c["resource_id"], c["outcome"]) for c in released] == [
        (ids[3], "applied"),
        (ids[3], "applied"),
    ]
    user = scim.get(f"/Users/{ids[3]}").get_json(force=True)
    assert user["active"] is False and user["displayName"] == "Renamed"
    assert active(app, ids[4])  # another person's held change stays held
    assert [c["resource_id"] for c in held(app)["changes"]] == [ids[4]]
