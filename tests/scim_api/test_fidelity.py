"""What a SCIM client reads back is exactly what it can filter on: every address of a user,
case folded alike on both databases, deleted users out of uniqueness, timestamps at the
precision sent, versions that follow group membership, and requests run again when a
deadlock undoes them."""

from __future__ import annotations

import typing as t
from urllib.parse import quote

import pytest
from sqlalchemy.exc import OperationalError

from flask_okta_scim import signals
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import listen
from tests.conftest import patch_body
from tests.conftest import user_body

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def ids(scim: ScimClient, filter_text: str) -> list[str]:
    r = scim.get(f"/Users?filter={quote(filter_text)}")
    assert r.status_code == 200, r.get_data(as_text=True)
    return [u["id"] for u in r.get_json(force=True)["Resources"]]


def create(scim: ScimClient, user_name: str, **extra: t.Any) -> str:
    r = scim.post("/Users", user_body(user_name, **extra))
    assert r.status_code == 201, r.get_data(as_text=True)
    return t.cast(str, r.get_json(force=True)["id"])


# -- every address, with its type ------------------------------------------------------------

TWO_ADDRESSES = [
    {"value": "ann@home.example", "type": "home", "primary": True},
    {"value": "Ann.Work@acme.example", "type": "work"},
]


@pytest.fixture
def ann(scim: ScimClient) -> str:
    return create(scim, "ann@acme.example", emails=TWO_ADDRESSES)


@pytest.mark.parametrize(
    ("filter_text", "found"),
    [
        ('emails[type eq "work"].value eq "ann.work@acme.example"', True),  # Entra's lookup
        ('emails[type eq "WORK"].value eq "ANN.WORK@ACME.EXAMPLE"', True),
        ('emails[type eq "work"].value eq "ann@home.example"', False),
        ('emails[primary eq true].value eq "ann@home.example"', True),
        ('emails[primary eq "True"].value eq "ann@home.example"', True),
        ('emails[primary eq true].value eq "ann.work@acme.example"', False),
        ('emails.value eq "ann.work@acme.example"', True),  # any address
        ('emails eq "ann@home.example"', True),
        ('emails.value co "work@acme"', True),
        ('emails[type eq "home" and value ew "@home.example"]', True),
        ('emails[type eq "other"]', False),
        ('emails.type eq "home"', True),
        ('not (emails.value eq "ann@home.example")', False),
        ('emails[type eq "work"].value eq "ann.work@acme.example" and active eq true', True),
    ],
)
def test_every_address_is_filterable_with_its_type(scim, ann, filter_text, found):
    assert ids(scim, filter_text) == ([ann] if found else [])


def test_changed_addresses_are_what_filters_see(scim, ann):
    r = scim.patch(
        f"/Users/{ann}",
        patch_body(
            {
                "op": "replace",
                "path": "emails",
                "value": [{"value": "ann@new.example", "type": "work", "primary": True}],
            }
        ),
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert ids(scim, 'emails.value eq "ann.work@acme.example"') == []
    assert ids(scim, 'emails[type eq "work"].value eq "ann@new.example"') == [ann]
    r = scim.put(f"/Users/{ann}", user_body("ann@acme.example", emails=TWO_ADDRESSES))
    assert r.status_code == 200
    assert ids(scim, 'emails.value eq "ann@new.example"') == []
    assert ids(scim, 'emails[type eq "home"].value eq "ann@home.example"') == [ann]


def test_a_deleted_users_addresses_are_not_found(scim, ann):
    assert scim.delete(f"/Users/{ann}").status_code == 204
    assert ids(scim, 'emails.value eq "ann@home.example"') == []


# -- case folding alike on SQLite and PostgreSQL ------------------------------------------------


def test_non_ascii_case_is_folded_on_every_attribute(scim):
    elodie = create(
        scim,
        "elodie@acme.example",
        displayName="Élodie Müller",
        name={"givenName": "Élodie", "familyName": "Straße"},
        title="Ingénieure",
    )
    create(scim, "other@acme.example", displayName="Elodie Muller")
    assert ids(scim, 'displayName eq "ÉLODIE MÜLLER"') == [elodie]
    assert ids(scim, 'name.familyName eq "STRASSE"') == [elodie]
    assert ids(scim, 'name.givenName sw "élo"') == [elodie]
    assert ids(scim, 'title co "GÉN"') == [elodie]
    assert ids(scim, 'userName eq "ÉLODIE@acme.example"') == []  # a different address


def test_user_name_lookup_folds_non_ascii(scim):
    zoe = create(scim, "zoë@acme.example")
    assert ids(scim, 'userName eq "ZOË@ACME.EXAMPLE"') == [zoe]
    assert_scim_error(scim.post("/Users", user_body("ZOË@acme.example")), 409, "uniqueness")


def test_group_display_name_folds_non_ascii(scim):
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Équipe Zürich"})
    assert r.status_code == 201
    lookup = quote('displayName eq "ÉQUIPE ZÜRICH"')
    found = scim.get(f"/Groups?filter={lookup}")
    assert [g["id"] for g in found.get_json(force=True)["Resources"]] == [
        r.get_json(force=True)["id"]
    ]


# -- deleted users do not count in uniqueness (RFC 7644 §3.6) -----------------------------------


def test_renaming_to_a_deleted_users_name_succeeds(scim):
    gone = create(scim, "gone@acme.example")
    stays = create(scim, "stays@acme.example")
    assert scim.delete(f"/Users/{gone}").status_code == 204
    r = scim.patch(
        f"/Users/{stays}",
        patch_body({"op": "replace", "path": "userName", "value": "GONE@acme.example"}),
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert ids(scim, 'userName eq "gone@acme.example"') == [stays]
    assert scim.get(f"/Users/{gone}").status_code == 404
    # the name is taken by a live user now: a create is a conflict, not a revival
    assert_scim_error(scim.post("/Users", user_body("gone@acme.example")), 409, "uniqueness")


def test_renaming_to_a_deactivated_users_name_is_still_a_conflict(scim):
    paused = create(scim, "paused@acme.example")
    other = create(scim, "other@acme.example")
    scim.patch(f"/Users/{paused}", patch_body({"op": "replace", "value": {"active": False}}))
    r = scim.patch(
        f"/Users/{other}",
        patch_body({"op": "replace", "path": "userName", "value": "paused@acme.example"}),
    )
    assert_scim_error(r, 409, "uniqueness")


def test_control_characters_in_a_user_name_are_refused(scim):
    assert_scim_error(scim.post("/Users", user_body("a\u001fb@acme.example")), 400)


# -- meta.lastModified at the precision it is returned ---------------------------------------


def test_last_modified_filters_at_the_returned_precision(scim):
    ann = create(scim, "ann@acme.example")
    modified = scim.get(f"/Users/{ann}").get_json(force=True)["meta"]["lastModified"]
    assert ids(scim, f'meta.lastModified eq "{modified}"') == [ann]
    assert ids(scim, f'meta.lastModified ge "{modified}"') == [ann]
    assert ids(scim, f'meta.lastModified gt "{modified}"') == []
    assert ids(scim, f'meta.lastModified lt "{modified}"') == []


def test_group_last_modified_filters_at_the_returned_precision(scim):
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "G"}).get_json(force=True)
    modified = group["meta"]["lastModified"]
    for op, expected in (("eq", 1), ("gt", 0), ("le", 1)):
        text = quote(f'meta.lastModified {op} "{modified}"')
        found = scim.get(f"/Groups?filter={text}")
        assert found.get_json(force=True)["totalResults"] == expected, op


# -- a user's version follows their groups -------------------------------------------------------


def test_group_membership_changes_the_users_version(scim):
    ann = create(scim, "ann@acme.example")
    first = scim.get(f"/Users/{ann}?attributes=groups")
    etag = first.headers["ETag"]
    group = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Ops", "members": [{"value": ann}]}
    ).get_json(force=True)
    again = scim.get(f"/Users/{ann}?attributes=groups", headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert [g["value"] for g in again.get_json(force=True)["groups"]] == [group["id"]]
    versions = [etag, again.headers["ETag"]]
    for body in (
        patch_body({"op": "replace", "value": {"displayName": "Operations"}}),
        patch_body({"op": "remove", "path": f'members[value eq "{ann}"]'}),
    ):
        assert scim.patch(f"/Groups/{group['id']}", body).status_code == 204
        versions.append(scim.get(f"/Users/{ann}").headers["ETag"])
    assert len(set(versions)) == 4, versions


def test_deleting_a_group_changes_its_members_versions(scim):
    ann = create(scim, "ann@acme.example")
    group = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Ops", "members": [{"value": ann}]}
    ).get_json(force=True)
    before = scim.get(f"/Users/{ann}").headers["ETag"]
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.get(f"/Users/{ann}", headers={"If-None-Match": before}).status_code == 200


# -- a unit of work undone by a deadlock runs again ----------------------------------------------


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_deadlock_is_run_again_transparently(scim):
    ann = create(scim, "ann@acme.example")
    runs: list[int] = []

    def fail_once(sender: t.Any, **kwargs: t.Any) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise OperationalError("UPDATE ...", {}, _Deadlock("deadlock detected"))

    signals.user_updated.connect(fail_once)
    try:
        with listen(signals.user_updated):
            r = scim.patch(
                f"/Users/{ann}", patch_body({"op": "replace", "value": {"title": "Boss"}})
            )
    finally:
        signals.user_updated.disconnect(fail_once)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert len(runs) == 2
    assert scim.get(f"/Users/{ann}").get_json(force=True)["title"] == "Boss"


def test_a_deadlock_every_time_is_a_409_after_a_bounded_number_of_runs(scim):
    ann = create(scim, "ann@acme.example")
    runs: list[int] = []

    def always(sender: t.Any, **kwargs: t.Any) -> None:
        runs.append(1)
        raise OperationalError("UPDATE ...", {}, _Deadlock("deadlock detected"))

    signals.user_updated.connect(always)
    try:
        r = scim.patch(f"/Users/{ann}", patch_body({"op": "replace", "value": {"title": "X"}}))
    finally:
        signals.user_updated.disconnect(always)
    assert_scim_error(r, 409)
    assert r.get_json(force=True).get("scimType") is None  # not a uniqueness clash
    assert 1 < len(runs) <= 5
    assert "title" not in scim.get(f"/Users/{ann}").get_json(force=True)


def test_enterprise_attributes_fold_too(scim):
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    ann = create(scim, "ann@acme.example", **{enterprise: {"department": "Ventes Été"}})
    assert ids(scim, f'{enterprise}:department eq "VENTES ÉTÉ"') == [ann]
    assert ids(scim, f'{enterprise}:department sw "ventes"') == [ann]
