"""What a PATCH costs, counted, not timed: each form stays linear in the size of its body.

A quadratic form (each item of a list compared with every other, each operation scanning
every attribute name) shows here as a count that grows with n², which these bounds refuse.
Also the length limits and Entra's bare-id manager in the pure core.
"""

from __future__ import annotations

import typing as t

import pytest

from flask_okta_scim.core.errors import InvalidValue
from flask_okta_scim.scim import patch as patch_module
from flask_okta_scim.scim.constants import ENTERPRISE_USER as E
from flask_okta_scim.scim.constants import GROUP
from flask_okta_scim.scim.constants import PATCH_OP
from flask_okta_scim.scim.constants import USER
from flask_okta_scim.scim.errors import TooMany
from flask_okta_scim.scim.group_patch import group_changes
from flask_okta_scim.scim.patch import MAX_FILTER_LOOKUPS
from flask_okta_scim.scim.patch import apply_patch
from flask_okta_scim.scim.patch import parse_patch
from flask_okta_scim.scim.resources import parse_user

N = 400


def body(*operations: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def patched(resource: dict[str, t.Any], *operations: dict[str, t.Any]) -> dict[str, t.Any]:
    return apply_patch(resource, parse_patch(body(*operations), USER), USER)


class CountingDict(dict[str, t.Any]):
    """A JSON object that counts how often it is compared for equality (deepcopy keeps it)."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountingDict.comparisons += 1
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


class CountingName(str):
    """An attribute name that counts how often it is lower-cased."""

    lowered = 0

    def lower(self) -> str:
        CountingName.lowered += 1
        return str.lower(self)


def emails(n: int, prefix: str = "e") -> list[CountingDict]:
    return [CountingDict(value=f"{prefix}{i}@acme.example", type="work") for i in range(n)]


@pytest.mark.parametrize("path", [True, False], ids=["path", "no path"])
def test_adding_n_emails_to_n_compares_linearly(path):
    """The old ``item not in current`` made n² comparisons (160,000 here)."""
    user = {"userName": "ann@acme.example", "emails": emails(N)}
    new = emails(N, "x") + emails(N)  # half new, half already there
    op = (
        {"op": "add", "path": "emails", "value": new}
        if path
        else {"op": "add", "value": {"emails": new}}
    )
    CountingDict.comparisons = 0
    result = patched(user, op)
    assert len(result["emails"]) == 2 * N
    assert CountingDict.comparisons <= 4 * N


def test_n_operations_on_n_attributes_look_names_up_in_constant_time():
    """Each ``_key`` scanned every attribute before: n² ``lower()`` calls."""
    user = {CountingName(f"attr{i}"): "v" for i in range(N)}
    user["userName"] = "ann@acme.example"
    operations = [{"op": "replace", "path": f"ATTR{i}", "value": "w"} for i in range(N)]
    CountingName.lowered = 0
    result = patched(user, *operations)
    assert all(result[f"attr{i}"] == "w" for i in range(N))
    assert len(result) == N + 1  # replaced in place, in their spelling
    assert CountingName.lowered <= 2 * N


def test_a_path_less_value_with_n_attributes_looks_each_up_once():
    user = {CountingName(f"attr{i}"): "v" for i in range(N)}
    user["userName"] = "ann@acme.example"
    CountingName.lowered = 0
    result = patched(user, {"op": "replace", "value": {f"Attr{i}": "w" for i in range(N)}})
    assert result["attr0"] == "w" and "Attr0" not in result
    assert CountingName.lowered <= 2 * N


def test_value_filters_are_bounded_in_lookups_whatever_the_number_of_operations(monkeypatch):
    calls = 0
    real = patch_module.matches

    def counting(*args: t.Any, **kwargs: t.Any) -> bool:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(patch_module, "matches", counting)
    user = {"userName": "ann@acme.example", "emails": emails(N)}
    removals = [{"op": "remove", "path": f'emails[value eq "e{i}@acme.example"]'} for i in range(N)]
    with pytest.raises(TooMany):
        patched(user, *removals)
    assert calls <= MAX_FILTER_LOOKUPS


def test_a_filter_matching_every_element_removes_them_in_one_pass(monkeypatch):
    calls = 0
    real = patch_module.matches

    def counting(*args: t.Any, **kwargs: t.Any) -> bool:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(patch_module, "matches", counting)
    user = {"userName": "ann@acme.example", "emails": emails(N)}
    assert "emails" not in patched(user, {"op": "remove", "path": 'emails[type eq "work"]'})
    assert calls == N


def test_long_element_values_count_against_the_filter_budget():
    user = {"userName": "ann@acme.example", "emails": [{"value": "x" * 200_000, "type": "w"}]}
    ops = [{"op": "remove", "path": 'emails[value co "y"]'}] * 30
    with pytest.raises(TooMany):
        patched(user, *ops)


def test_entra_like_bodies_stay_well_within_the_filter_budget():
    user = {"userName": "ann@acme.example", "emails": emails(3)}
    ops = [
        {"op": "Replace", "path": f'emails[type eq "work"].{sub}', "value": "e0@acme.example"}
        for sub in ("value", "display")
    ] * 50
    assert patched(user, *ops)["emails"][0]["value"] == "e0@acme.example"


def test_consecutive_member_removals_become_one_set_operation():
    ids = [f"{i:036d}" for i in range(N)]
    operations = [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in ids * 2]
    operations.append({"op": "add", "path": "members", "value": [{"value": ids[0]}]})
    changes = group_changes(parse_patch(body(*operations), GROUP))
    assert changes.membership == [("remove", ids), ("add", ids[:1])]


def test_a_long_or_chain_of_member_ids_is_read_in_order():
    ids = [f"u{i}" for i in range(40)]
    path = "members[" + " or ".join(f'value eq "{i}"' for i in ids) + "]"
    changes = group_changes(parse_patch(body({"op": "remove", "path": path}), GROUP))
    assert changes.membership == [("remove", ids)]


# -- lengths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        # 300 characters, 600 lower-cased (user_name_key holds the lower-cased form)
        ({"userName": "İ" * 300, "emails": [{"value": "a@b.co"}]}, "userName"),
        ({"emails": [{"value": "a@b.co"}, {"value": "b" * 321}]}, "emails.value"),
        ({"emails": [{"value": "a@b.co", "Value": "b" * 321}]}, "emails.value"),
        ({"emails": [{"value": "a@b.co", "type": "t" * 51}]}, "emails.type"),
        ({"emails": [{"value": "a@b.co", "TYPE": "t" * 51}]}, "emails.type"),
        ({"emails": [{"value": "a@b.co", "type": 5}]}, "emails.type"),
        ({E: {"manager": "m" * 513}}, "manager.value"),
        ({E: {"manager": {"Value": "m" * 513}}}, "manager.value"),
        ({E: {"manager": ["m"]}}, "manager"),
        ({E: {"manager": {"value": 5}}}, "manager.value"),
    ],
)
def test_lengths_and_types_are_refused_naming_the_attribute(fields, name):
    with pytest.raises(InvalidValue, match=name.replace(".", r"\.")):
        parse_user({"userName": "ann@acme.example", **fields})


@pytest.mark.parametrize(
    ("manager", "expected"),
    [
        ("2611", {"manager": {"value": "2611"}}),
        (
            {"value": "2611", "displayName": "Boss"},
            {"manager": {"value": "2611", "displayName": "Boss"}},
        ),
        ({"VALUE": "2611"}, {"manager": {"value": "2611"}}),
        ("", {"department": "R&D"}),
        ({"value": ""}, {"department": "R&D"}),
    ],
)
def test_the_manager_is_stored_as_an_object(manager, expected):
    user = parse_user(
        {"userName": "ann@acme.example", E: {"department": "R&D", "Manager": manager}}
    )
    assert {k: v for k, v in user.attributes[E].items() if k != "department"} == {
        k: v for k, v in expected.items() if k != "department"
    }


def test_a_bare_manager_then_its_value_in_one_patch():
    user = {"userName": "ann@acme.example"}
    result = patched(
        user,
        {"op": "Add", "path": f"{E}:manager", "value": "first"},
        {"op": "replace", "path": f"{E}:manager.value", "value": "second"},
    )
    assert result[E] == {"manager": {"value": "second"}}
    assert parse_user(result).attributes[E] == {"manager": {"value": "second"}}


def test_only_the_enterprise_manager_is_made_an_object():
    other = "urn:example:ext:1.0:User"
    result = patched(
        {"userName": "a@b.co"}, {"op": "add", "path": f"{other}:manager", "value": "x"}
    )
    assert result[other] == {"manager": "x"}


def test_n_one_item_adds_fingerprint_each_item_once(monkeypatch):
    """Each add hashed the whole list again: n² fingerprints."""
    calls = 0
    real = patch_module._fingerprint

    def counting(item: t.Any) -> str:
        nonlocal calls
        calls += 1
        return real(item)

    monkeypatch.setattr(patch_module, "_fingerprint", counting)
    user = {"userName": "ann@acme.example", "emails": emails(N)}
    adds = [{"op": "add", "path": "emails", "value": [{"value": f"x{i}@b.co"}]} for i in range(N)]
    assert len(patched(user, *adds)["emails"]) == 2 * N
    assert calls <= 3 * N
