"""PATCH (RFC 7644 §3.5.2), pure: parse_patch, parse_path, apply_patch, group_changes.

The bodies are the ones Okta sends (reference §1.7-1.11: path-less replace of
``active``/``password``/profile, group rename with ``id`` in the value,
``members[value eq "…"]`` removal, member adds without ``type``, full member
replace), the ones Entra sends (capitalised ops, string booleans, ``remove``
of ``members`` with a value list, ``emails[type eq "work"].value``), and the
RFC's own forms.
"""

from __future__ import annotations

import copy
import typing as t

import pytest

from flask_okta_scim.core.errors import InvalidValue
from flask_okta_scim.scim.constants import ENTERPRISE_USER as E
from flask_okta_scim.scim.constants import GROUP
from flask_okta_scim.scim.constants import PATCH_OP
from flask_okta_scim.scim.constants import USER
from flask_okta_scim.scim.errors import InvalidPath
from flask_okta_scim.scim.errors import InvalidSyntax
from flask_okta_scim.scim.errors import NoTarget
from flask_okta_scim.scim.errors import ScimError
from flask_okta_scim.scim.errors import TooMany
from flask_okta_scim.scim.errors import answer
from flask_okta_scim.scim.filters import And
from flask_okta_scim.scim.filters import Compare
from flask_okta_scim.scim.filters import Or
from flask_okta_scim.scim.group_patch import group_changes
from flask_okta_scim.scim.patch import MAX_OPERATIONS
from flask_okta_scim.scim.patch import GroupChanges
from flask_okta_scim.scim.patch import Operation
from flask_okta_scim.scim.patch import Path
from flask_okta_scim.scim.patch import apply_patch
from flask_okta_scim.scim.patch import parse_patch
from flask_okta_scim.scim.patch import parse_path
from flask_okta_scim.scim.resources import parse_user

U1 = "23a35c27-23d3-4c03-b4c5-6443c09e7173"
U2 = "89bb1940-b905-4575-9e7f-6f887cfb368e"
U3 = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"


def body(*operations: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def patched(resource: dict[str, t.Any], *operations: dict[str, t.Any]) -> dict[str, t.Any]:
    return apply_patch(resource, parse_patch(body(*operations), USER), USER)


def changes(*operations: dict[str, t.Any]) -> GroupChanges:
    return group_changes(parse_patch(body(*operations), GROUP))


def okta_user() -> dict[str, t.Any]:
    """A user as the store hands it to apply_patch (attributes + userName/active/externalId)."""
    return {
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "active": True,
    }


# -- parse_path ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("active", Path(None, "active")),
        ("  title  ", Path(None, "title")),
        ("name.givenName", Path(None, "name", None, "givenName")),
        (f"{USER}:name.givenName", Path(None, "name", None, "givenName")),
        (f"{USER.upper()}:userName", Path(None, "userName")),
        (f"{E}:department", Path(E, "department")),
        (f"{E.upper()}:Department", Path(E, "Department")),
        (f"{E}:manager.value", Path(E, "manager", None, "value")),
        (E, Path(None, E)),
        (E.lower(), Path(None, E)),
        ("urn:example:ext:1.0:User:shoeSize", Path("urn:example:ext:1.0:User", "shoeSize")),
        (
            'emails[type eq "work"].value',
            Path(None, "emails", Compare("type", "eq", "work"), "value"),
        ),
        (
            'emails[type eq "work" and primary eq true]',
            Path(
                None,
                "emails",
                And(Compare("type", "eq", "work"), Compare("primary", "eq", True)),
            ),
        ),
        (f'members[value eq "{U2}"]', Path(None, "members", Compare("value", "eq", U2))),
        ("$ref", Path(None, "$ref")),
    ],
)
def test_parse_path(text, expected):
    path = parse_path(text, USER)
    assert (path.urn, path.attribute, path.value_filter, path.sub) == (
        expected.urn,
        expected.attribute,
        expected.value_filter,
        expected.sub,
    )
    assert path.text == text


def test_parse_path_with_the_group_core_schema():
    path = parse_path(f"{GROUP}:displayName", GROUP)
    assert (path.urn, path.attribute) == (None, "displayName")
    # The User core URN is not the Group's: it is read as an unknown extension.
    assert parse_path(f"{USER}:displayName", GROUP).urn == USER


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        None,
        5,
        ["active"],
        "a b",
        "1abc",
        "name..givenName",
        "name.given.name",
        "emails[",
        'emails[type eq "work"',
        "emails[]",
        'emails[type zz "work"]',
        'emails[type eq "work"].value.x',
        "urn:a:b:",
        "urn:x[y]:z",
        "x" * 1025,
        "title;drop",
    ],
)
def test_parse_path_refuses_garbage(text):
    with pytest.raises(InvalidPath) as info:
        parse_path(text, USER)
    assert info.value.status == 400
    assert info.value.scim_type == "invalidPath"


# -- parse_patch --------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["replace", "Replace", "REPLACE", "add", "Add", "remove", "Remove"])
def test_op_names_are_case_insensitive(op):
    operations = parse_patch(body({"op": op, "path": "title", "value": "x"}), USER)
    assert operations == [Operation(op.lower(), parse_path("title", USER), "x", True)]


def test_member_keys_and_operations_key_are_case_insensitive():
    operations = parse_patch(
        {"operations": [{"OP": "Replace", "Path": "title", "Value": "x"}]}, USER
    )
    assert [(o.op, o.path.attribute if o.path else None, o.value) for o in operations] == [
        ("replace", "title", "x")
    ]


def test_schemas_may_be_omitted():
    assert len(parse_patch({"Operations": [{"op": "remove", "path": "title"}]}, USER)) == 1


def test_remove_without_value_has_no_value():
    (operation,) = parse_patch(body({"op": "remove", "path": "title"}), USER)
    assert operation.has_value is False
    assert operation.value is None


def test_value_null_is_a_value():
    (operation,) = parse_patch(body({"op": "replace", "path": "title", "value": None}), USER)
    assert operation.has_value is True
    assert operation.value is None


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        "Operations",
        [{"op": "replace", "value": {"active": False}}],
        {},
        {"schemas": [PATCH_OP]},
        {"schemas": [PATCH_OP], "Operations": []},
        {"schemas": [PATCH_OP], "Operations": {"op": "remove", "path": "title"}},
        {"schemas": [PATCH_OP], "Operations": None},
        {"schemas": [USER], "Operations": [{"op": "remove", "path": "title"}]},
        {"schemas": PATCH_OP, "Operations": [{"op": "remove", "path": "title"}]},
        body("remove title"),
        body(None),
        body({"path": "title", "value": "x"}),
        body({"op": "move", "path": "title", "value": "x"}),
        body({"op": "copy", "path": "title", "value": "x"}),
        body({"op": 1, "path": "title", "value": "x"}),
        body({"op": None, "path": "title", "value": "x"}),
        body({"op": "remove", "path": "title"}, "x"),
    ],
)
def test_invalid_syntax(bad):
    with pytest.raises(InvalidSyntax) as info:
        parse_patch(bad, USER)
    assert info.value.status == 400
    assert info.value.scim_type == "invalidSyntax"


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "title"},
        {"op": "replace", "path": "title"},
        {"op": "Replace"},
        {"op": "add", "value": "x"},
        {"op": "replace", "value": ["active", False]},
        {"op": "replace", "value": None},
    ],
)
def test_invalid_value(operation):
    with pytest.raises(InvalidValue) as info:
        parse_patch(body(operation), USER)
    assert answer(info.value).scim_type == "invalidValue"


@pytest.mark.parametrize("path", ["", "a b", "emails[type eq]", "name..x"])
def test_invalid_path_in_a_body(path):
    with pytest.raises(InvalidPath):
        parse_patch(body({"op": "replace", "path": path, "value": "x"}), USER)


@pytest.mark.parametrize("operation", [{"op": "remove"}, {"op": "Remove", "value": {"title": "x"}}])
def test_remove_without_path_is_no_target(operation):
    with pytest.raises(NoTarget) as info:
        parse_patch(body(operation), USER)
    assert info.value.scim_type == "noTarget"
    assert info.value.status == 400


def test_too_many_operations():
    operation = {"op": "replace", "path": "title", "value": "x"}
    assert len(parse_patch(body(*[operation] * MAX_OPERATIONS), USER)) == MAX_OPERATIONS
    with pytest.raises(TooMany) as info:
        parse_patch(body(*[operation] * (MAX_OPERATIONS + 1)), USER)
    assert info.value.scim_type == "tooMany"
    assert str(MAX_OPERATIONS) in info.value.detail


def test_all_errors_are_scim_errors_with_rfc_bodies():
    with pytest.raises(ScimError) as info:
        parse_patch(body({"op": "move"}), USER)
    assert info.value.to_dict() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "invalidSyntax",
        "detail": info.value.detail,
    }


# -- apply_patch: Okta ----------------------------------------------------------------------------


@pytest.mark.parametrize("active", [False, True])
def test_okta_deactivate_and_reactivate(active):
    resource = okta_user()
    resource["active"] = not active
    result = patched(resource, {"op": "replace", "value": {"active": active}})
    assert result == {**okta_user(), "active": active}


def test_okta_password_sync_lands_in_the_body_and_parse_user_extracts_it():
    result = patched(okta_user(), {"op": "replace", "value": {"password": "Lstar99&"}})
    assert result == {**okta_user(), "password": "Lstar99&"}
    data = parse_user(result)
    assert data.password == "Lstar99&"
    assert "password" not in data.attributes


def test_okta_path_less_profile_replace():
    result = patched(
        okta_user(),
        {
            "op": "replace",
            "value": {
                "name": {"givenName": "Another", "middleName": "Excited"},
                "displayName": "Another User",
                "title": "Engineer",
            },
        },
    )
    assert result["name"] == {"givenName": "Another", "middleName": "Excited", "familyName": "User"}
    assert result["displayName"] == "Another User"
    assert result["title"] == "Engineer"
    assert result["emails"] == okta_user()["emails"]


def test_path_less_keys_are_paths():
    result = patched(
        okta_user(),
        {
            "op": "add",
            "value": {
                "name.honorificPrefix": "Dr",
                f"{E}:department": "Eng",
                f"{E}:manager.value": U1,
                "NICKNAME": "T",
            },
        },
    )
    assert result["name"] == {"givenName": "Test", "familyName": "User", "honorificPrefix": "Dr"}
    assert result[E] == {"department": "Eng", "manager": {"value": U1}}
    assert result["NICKNAME"] == "T"


def test_path_less_replace_of_a_whole_extension_merges():
    resource = {**okta_user(), E: {"division": "R&D", "department": "Old"}}
    result = patched(resource, {"op": "replace", "value": {E: {"department": "New"}}})
    assert result[E] == {"division": "R&D", "department": "New"}


def test_path_less_replace_of_a_multi_valued_attribute_replaces_the_list():
    new = [{"value": "new@okta.local", "type": "work", "primary": True}]
    result = patched(okta_user(), {"op": "replace", "value": {"emails": new}})
    assert result["emails"] == new


# -- apply_patch: Entra ---------------------------------------------------------------------------


def test_entra_capitalised_ops_and_string_booleans_are_left_to_parse_user():
    result = patched(okta_user(), {"op": "Replace", "path": "active", "value": "False"})
    assert result["active"] == "False"
    assert parse_user(result).active is False


def test_entra_work_email_replace_changes_the_matching_element():
    resource = okta_user()
    resource["emails"].append({"value": "home@x.test", "type": "home"})
    result = patched(
        resource,
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@okta.local"},
    )
    assert result["emails"] == [
        {"primary": True, "value": "new@okta.local", "type": "work"},
        {"value": "home@x.test", "type": "home"},
    ]


def test_entra_work_email_replace_creates_the_element_when_missing():
    resource = {"userName": "jdoe", "emails": [{"value": "home@x.test", "type": "home"}]}
    result = patched(
        resource, {"op": "Add", "path": 'emails[type eq "work"].value', "value": "w@x.test"}
    )
    assert result["emails"] == [
        {"value": "home@x.test", "type": "home"},
        {"type": "work", "value": "w@x.test"},
    ]
    result = patched(
        {"userName": "jdoe"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "w@x.test"},
    )
    assert result["emails"] == [{"type": "work", "value": "w@x.test"}]
    assert parse_user(result).email == "w@x.test"


def test_equality_template_with_and_creates_every_sub_attribute():
    result = patched(
        {},
        {
            "op": "add",
            "path": 'emails[type eq "work" and primary eq true].value',
            "value": "w@x.test",
        },
    )
    assert result == {"emails": [{"type": "work", "primary": True, "value": "w@x.test"}]}


def test_entra_enterprise_attributes():
    result = patched(
        okta_user(),
        {"op": "Add", "path": f"{E}:employeeNumber", "value": "701984"},
        {"op": "Replace", "path": f"{E}:manager.value", "value": U1},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    )
    assert result[E] == {"employeeNumber": "701984", "manager": {"value": U1}}
    assert result["name"] == {"givenName": "Test", "familyName": "updatedFamilyName"}


# -- apply_patch: RFC forms -----------------------------------------------------------------------


def test_sub_attribute_replace_and_add():
    result = patched(okta_user(), {"op": "replace", "path": "name.givenName", "value": "Q"})
    assert result["name"] == {"givenName": "Q", "familyName": "User"}
    result = patched({"userName": "u"}, {"op": "add", "path": "name.givenName", "value": "Q"})
    assert result == {"userName": "u", "name": {"givenName": "Q"}}


def test_attribute_names_match_existing_keys_case_insensitively():
    result = patched(
        {"Title": "a", "Name": {"GivenName": "x"}},
        {"op": "replace", "path": "title", "value": "b"},
        {"op": "replace", "path": "name.givenName", "value": "y"},
    )
    assert result == {"Title": "b", "Name": {"GivenName": "y"}}


def test_urn_prefixed_core_attribute():
    result = patched(okta_user(), {"op": "replace", "path": f"{USER}:userName", "value": "n@x"})
    assert result["userName"] == "n@x"


def test_whole_extension_object():
    result = patched(okta_user(), {"op": "add", "path": E, "value": {"department": "Eng"}})
    assert result[E] == {"department": "Eng"}
    result = patched(
        {E: {"division": "d"}}, {"op": "add", "path": E, "value": {"department": "Eng"}}
    )
    assert result[E] == {"division": "d", "department": "Eng"}
    result = patched({E: {"division": "d"}, "title": "t"}, {"op": "remove", "path": E.upper()})
    assert result == {"title": "t"}


def test_unknown_extension_attribute_is_kept_under_its_urn():
    urn = "urn:example:ext:1.0:User"
    result = patched({}, {"op": "add", "path": f"{urn}:shoeSize", "value": "42"})
    assert result == {urn: {"shoeSize": "42"}}


def test_add_to_a_multi_valued_attribute_appends_and_dedupes():
    work = {"primary": True, "value": "test.user@okta.local", "type": "work"}
    home = {"value": "home@x.test", "type": "home"}
    result = patched(okta_user(), {"op": "add", "path": "emails", "value": [dict(work), home]})
    assert result["emails"] == [work, home]
    result = patched(result, {"op": "add", "path": "emails", "value": dict(home)})
    assert result["emails"] == [work, home]
    result = patched({}, {"op": "add", "path": "emails", "value": [home]})
    assert result["emails"] == [home]


def test_add_of_a_complex_attribute_merges():
    result = patched(okta_user(), {"op": "add", "path": "name", "value": {"middleName": "M"}})
    assert result["name"] == {"givenName": "Test", "familyName": "User", "middleName": "M"}


def test_replace_of_a_complex_attribute_merges_sub_attributes():
    result = patched(okta_user(), {"op": "replace", "path": "name", "value": {"givenName": "Z"}})
    assert result["name"] == {"givenName": "Z", "familyName": "User"}


def test_replace_of_a_multi_valued_attribute_replaces_it():
    result = patched(okta_user(), {"op": "replace", "path": "emails", "value": []})
    assert result["emails"] == []
    phone = [{"value": "+1 555", "type": "work"}]
    assert (
        patched(okta_user(), {"op": "replace", "path": "phoneNumbers", "value": phone})[
            "phoneNumbers"
        ]
        == phone
    )


def test_replace_of_a_filtered_element_with_an_object_merges_into_it():
    result = patched(
        okta_user(),
        {"op": "replace", "path": 'emails[type eq "work"]', "value": {"display": "T"}},
    )
    assert result["emails"] == [
        {"primary": True, "value": "test.user@okta.local", "type": "work", "display": "T"}
    ]


def test_replace_with_a_filter_updates_every_match():
    resource = {"emails": [{"value": "a", "type": "work"}, {"value": "b", "type": "home"}]}
    result = patched(
        resource,
        {"op": "replace", "path": 'emails[type eq "work" or type eq "home"].display', "value": "D"},
    )
    assert [e["display"] for e in result["emails"]] == ["D", "D"]


@pytest.mark.parametrize(
    "path",
    [
        'emails[type ne "work"].value',
        'emails[value co "zzz"].value',
        'emails[type eq "home" or type eq "other"].value',
        'emails[not (type eq "work")].value',
    ],
)
def test_replace_with_a_non_matching_non_equality_filter_is_no_target(path):
    with pytest.raises(NoTarget) as info:
        patched(okta_user(), {"op": "replace", "path": path, "value": "x"})
    assert path in info.value.detail


@pytest.mark.parametrize(
    "path",
    [
        "title",
        "nickName",
        "name.middleName",
        "addresses",
        f"{E}:department",
        f"{E}:manager.value",
        E,
        'emails[type eq "home"]',
        'emails[type eq "home"].value',
        'phoneNumbers[type eq "work"]',
        "urn:example:ext:1.0:User:shoeSize",
    ],
)
def test_remove_of_a_missing_attribute_is_a_no_op(path):
    assert patched(okta_user(), {"op": "remove", "path": path}) == okta_user()


def test_remove_of_attributes():
    resource = {
        **okta_user(),
        "title": "t",
        E: {"department": "d", "manager": {"value": U1, "displayName": "M"}},
    }
    result = patched(
        resource,
        {"op": "remove", "path": "TITLE"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": f"{E}:manager.displayName"},
    )
    assert "title" not in result
    assert result["name"] == {"familyName": "User"}
    assert result[E] == {"department": "d", "manager": {"value": U1}}


def test_remove_with_a_filter_drops_matching_elements_and_the_attribute_when_empty():
    resource = {"emails": [{"value": "a", "type": "work"}, {"value": "b", "type": "home"}]}
    result = patched(resource, {"op": "remove", "path": 'emails[type eq "home"]'})
    assert result == {"emails": [{"value": "a", "type": "work"}]}
    result = patched(result, {"op": "remove", "path": 'emails[type eq "WORK"]'})
    assert result == {}


def test_remove_of_a_sub_attribute_with_a_filter():
    resource = {"emails": [{"value": "a", "type": "work", "display": "A"}, {"value": "b"}]}
    result = patched(resource, {"op": "remove", "path": 'emails[type eq "work"].display'})
    assert result == {"emails": [{"value": "a", "type": "work"}, {"value": "b"}]}


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ({"op": "replace", "path": "title.x", "value": "v"}, InvalidPath),
        ({"op": "add", "path": f"{E}:department", "value": "x"}, InvalidPath),
        ({"op": "replace", "path": 'emails[type eq "work"]', "value": "x"}, InvalidValue),
    ],
)
def test_apply_errors(operation, error):
    resource = {**okta_user(), "title": "t"}
    if operation["path"].startswith(E):
        resource[E] = "not an object"
    with pytest.raises(error):
        patched(resource, operation)


# -- read-only attributes -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["id", "ID", "meta", "groups", "schemas", "Schemas"])
@pytest.mark.parametrize("op", ["add", "replace", "remove"])
def test_read_only_attributes_are_ignored_with_a_path(name, op):
    operation: dict[str, t.Any] = {"op": op, "path": name}
    if op != "remove":
        operation["value"] = [{"value": "x"}] if name.lower() in ("groups", "schemas") else "x"
    resource = {**okta_user(), "meta": {"resourceType": "User"}}
    assert patched(resource, operation) == resource


def test_read_only_attributes_are_ignored_without_a_path():
    result = patched(
        okta_user(),
        {
            "op": "replace",
            "value": {
                "id": U1,
                "meta": {"resourceType": "User"},
                "groups": [{"value": "g"}],
                "schemas": [USER],
                "displayName": "Renamed",
            },
        },
    )
    assert result == {**okta_user(), "displayName": "Renamed"}


def test_read_only_sub_attribute_is_ignored():
    assert patched(okta_user(), {"op": "replace", "path": "meta.version", "value": "x"}) == (
        okta_user()
    )


# -- purity ---------------------------------------------------------------------------------------


def test_apply_patch_does_not_mutate_the_resource():
    resource = {
        **okta_user(),
        "title": "t",
        "phoneNumbers": [{"value": "1", "type": "work"}],
        E: {"department": "d", "manager": {"value": U1}},
    }
    before = copy.deepcopy(resource)
    result = patched(
        resource,
        {"op": "replace", "value": {"active": False, "name": {"givenName": "G"}}},
        {"op": "add", "path": "emails", "value": [{"value": "b@x", "type": "home"}]},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "w@x"},
        {"op": "remove", "path": 'phoneNumbers[type eq "work"]'},
        {"op": "replace", "path": f"{E}:manager.value", "value": U2},
        {"op": "remove", "path": f"{E}:department"},
        {"op": "remove", "path": "title"},
    )
    assert resource == before
    assert result != before
    assert result["active"] is False
    assert result["emails"][0]["value"] == "w@x"
    assert result[E] == {"manager": {"value": U2}}


def test_apply_patch_does_not_mutate_the_operations_it_applies():
    """BUG: values from the body are put into the result without a copy.

    A later operation then changes the earlier operation's value in place:
    two ``add`` of ``emails`` on a user without emails append the second
    email to the *first operation's* value list; a ``replace`` of ``name``
    followed by ``replace`` of ``name.familyName`` writes into the first
    operation's value dict. The request body is changed by applying it.
    """
    request = body(
        {"op": "add", "path": "emails", "value": [{"value": "a@x"}]},
        {"op": "add", "path": "emails", "value": [{"value": "b@x"}]},
        {"op": "replace", "path": "name", "value": {"givenName": "G"}},
        {"op": "replace", "path": "name.familyName", "value": "F"},
    )
    before = copy.deepcopy(request)
    operations = parse_patch(request, USER)
    result = apply_patch({"userName": "u"}, operations, USER)
    assert result == {
        "userName": "u",
        "emails": [{"value": "a@x"}, {"value": "b@x"}],
        "name": {"givenName": "G", "familyName": "F"},
    }
    assert request == before


def test_apply_patch_applies_operations_in_order():
    result = patched(
        {"title": "a"},
        {"op": "replace", "path": "title", "value": "b"},
        {"op": "remove", "path": "title"},
        {"op": "add", "path": "title", "value": "c"},
    )
    assert result == {"title": "c"}


# -- group_changes --------------------------------------------------------------------------------


def test_okta_group_rename_with_id_in_value():
    result = changes({"op": "replace", "value": {"id": U3, "displayName": "Test SCIMv2"}})
    assert result == GroupChanges(display_name="Test SCIMv2")


def test_okta_membership_delta():
    result = changes(
        {"op": "remove", "path": f'members[value eq "{U2}"]'},
        {
            "op": "add",
            "path": "members",
            "value": [{"value": U1, "display": "test.user@okta.local"}],
        },
    )
    assert result.membership == [("remove", [U2]), ("add", [U1])]
    assert result.display_name is None
    assert result.external_id_set is False


def test_okta_several_removes_and_one_multi_value_add_keep_their_order():
    result = changes(
        {"op": "remove", "path": 'members[value eq "removeUser1"]'},
        {"op": "remove", "path": 'members[value eq "removeUser2"]'},
        {
            "op": "add",
            "path": "members",
            "value": [
                {"value": "addUser1", "display": "addUser1@example.com"},
                {"value": "addUser2", "display": "addUser2@example.com"},
            ],
        },
    )
    # consecutive removes are one set operation (one query), still before the add
    assert result.membership == [
        ("remove", ["removeUser1", "removeUser2"]),
        ("add", ["addUser1", "addUser2"]),
    ]


def test_members_without_type_are_accepted():
    result = changes({"op": "add", "path": "members", "value": [{"value": U1}]})
    assert result.membership == [("add", [U1])]


def test_add_of_a_single_member_object():
    result = changes({"op": "add", "path": "members", "value": {"value": U1}})
    assert result.membership == [("add", [U1])]


def test_duplicate_members_are_collapsed():
    result = changes({"op": "add", "path": "members", "value": [{"value": U1}, {"value": U1}]})
    assert result.membership == [("add", [U1])]


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ([{"value": U1, "display": "a"}, {"value": U2, "display": "b"}], [U1, U2]),
        ([], []),
        (None, []),
    ],
)
def test_okta_push_now_replaces_the_whole_member_list(value, ids):
    result = changes({"op": "replace", "path": "members", "value": value})
    assert result.membership == [("replace", ids)]


def test_path_less_replace_of_members_and_name():
    result = changes(
        {"op": "replace", "value": {"members": [{"value": U1}], "displayName": " Renamed "}}
    )
    assert result.membership == [("replace", [U1])]
    assert result.display_name == "Renamed"


def test_entra_remove_of_members_with_a_value_list():
    result = changes({"op": "Remove", "path": "members", "value": [{"value": U1}, {"value": U2}]})
    assert result.membership == [("remove", [U1, U2])]


@pytest.mark.parametrize(
    "operation",
    [{"op": "remove", "path": "members"}, {"op": "remove", "path": "members", "value": []}],
)
def test_remove_of_members_without_value_empties_the_group(operation):
    assert changes(operation).membership == [("replace", [])]


def test_filtered_remove_joined_by_or():
    result = changes({"op": "remove", "path": f'members[value eq "{U1}" or value eq "{U2}"]'})
    assert result.membership == [("remove", [U1, U2])]


def test_member_ids_are_kept_exactly():
    result = changes({"op": "remove", "path": 'members[value eq "AbC"]'})
    assert result.membership == [("remove", ["AbC"])]


def test_group_external_id():
    assert changes({"op": "replace", "path": "externalId", "value": "e1"}) == GroupChanges(
        external_id="e1", external_id_set=True
    )
    assert changes({"op": "remove", "path": "externalId"}) == GroupChanges(
        external_id=None, external_id_set=True
    )
    assert changes({"op": "replace", "path": "externalId", "value": ""}) == GroupChanges(
        external_id=None, external_id_set=True
    )


def test_group_rename_by_path_and_by_core_urn():
    assert changes({"op": "Replace", "path": "displayName", "value": "A"}).display_name == "A"
    assert (
        changes({"op": "replace", "path": f"{GROUP}:displayName", "value": "B"}).display_name == "B"
    )
    assert changes({"op": "replace", "value": {f"{GROUP}:displayName": "C"}}).display_name == "C"


@pytest.mark.parametrize("name", ["id", "meta", "schemas", "ID"])
def test_group_read_only_attributes_are_ignored(name):
    assert changes({"op": "replace", "path": name, "value": "x"}) == GroupChanges()


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ({"op": "replace", "path": "displayName", "value": ""}, InvalidValue),
        ({"op": "replace", "path": "displayName", "value": "  "}, InvalidValue),
        ({"op": "replace", "path": "displayName", "value": 5}, InvalidValue),
        ({"op": "remove", "path": "displayName"}, InvalidValue),
        ({"op": "replace", "path": "externalId", "value": 5}, InvalidValue),
        # longer than their columns: a 500 on PostgreSQL before
        ({"op": "replace", "path": "externalId", "value": "x" * 513}, InvalidValue),
        ({"op": "replace", "value": {"externalId": "x" * 513}}, InvalidValue),
        ({"op": "replace", "path": "displayName", "value": "x" * 201}, InvalidValue),
        ({"op": "add", "path": "members", "value": [{"display": "no value"}]}, InvalidValue),
        ({"op": "add", "path": "members", "value": [{"value": ""}]}, InvalidValue),
        ({"op": "add", "path": "members", "value": [U1]}, InvalidValue),
        ({"op": "add", "path": "members", "value": U1}, InvalidValue),
        ({"op": "replace", "path": f'members[value eq "{U1}"]', "value": {}}, InvalidPath),
        ({"op": "remove", "path": 'members[display eq "x"]'}, InvalidPath),
        ({"op": "remove", "path": 'members[value ne "x"]'}, InvalidPath),
        ({"op": "remove", "path": 'members[value eq "a" and value eq "b"]'}, InvalidPath),
        ({"op": "remove", "path": "members[value eq true]"}, InvalidPath),
        ({"op": "replace", "path": "members.value", "value": "x"}, InvalidPath),
        ({"op": "replace", "path": "nosuch", "value": "x"}, InvalidPath),
        ({"op": "replace", "value": {"nosuch": "x"}}, InvalidPath),
        ({"op": "replace", "path": f"{E}:department", "value": "x"}, InvalidPath),
    ],
)
def test_group_errors(operation, error):
    with pytest.raises(error):
        changes(operation)


def test_group_filter_values_are_or_of_equalities_only():
    path = parse_path(f'members[value eq "{U1}" or value eq "{U2}"]', GROUP)
    assert path.value_filter == Or(Compare("value", "eq", U1), Compare("value", "eq", U2))
