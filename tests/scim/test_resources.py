"""User and Group resources, projection, discovery documents and error bodies (pure, no app)."""

from __future__ import annotations

import copy
import re
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest

from flask_okta_scim.core.errors import InvalidValue
from flask_okta_scim.scim import errors
from flask_okta_scim.scim.constants import ENTERPRISE_USER as E
from flask_okta_scim.scim.constants import GROUP
from flask_okta_scim.scim.constants import LIST_RESPONSE
from flask_okta_scim.scim.constants import RESOURCE_TYPE
from flask_okta_scim.scim.constants import SCHEMA
from flask_okta_scim.scim.constants import SERVICE_PROVIDER_CONFIG
from flask_okta_scim.scim.constants import USER
from flask_okta_scim.scim.discovery import list_response
from flask_okta_scim.scim.discovery import resource_types
from flask_okta_scim.scim.discovery import schemas
from flask_okta_scim.scim.discovery import service_provider_config
from flask_okta_scim.scim.errors import InvalidSyntax
from flask_okta_scim.scim.errors import answer
from flask_okta_scim.scim.resources import as_bool
from flask_okta_scim.scim.resources import etag
from flask_okta_scim.scim.resources import member_values
from flask_okta_scim.scim.resources import parse_group
from flask_okta_scim.scim.resources import parse_user
from flask_okta_scim.scim.resources import primary_email
from flask_okta_scim.scim.resources import project
from flask_okta_scim.scim.resources import prune
from flask_okta_scim.scim.resources import render_group
from flask_okta_scim.scim.resources import render_user
from flask_okta_scim.scim.resources import timestamp

BASE = "https://app.example.test/scim/v2"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def okta_create() -> dict[str, t.Any]:
    """Okta's create body, verbatim (reference §1.3)."""
    return {
        "schemas": [USER],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


# -- parse_user -----------------------------------------------------------------------------------


def test_parse_okta_create():
    data = parse_user(okta_create())
    assert data.user_name == "test.user@okta.local"
    assert data.email == "test.user@okta.local"
    assert data.external_id == "00ujl29u0le5T6Aj10h7"
    assert data.display_name == "Test User"
    assert data.active is True
    assert data.password == "1mz050nq"
    assert data.attributes == {
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
    }


def test_parse_okta_put_ignores_read_only_attributes():
    """Okta's 2018 PUT echoes id, meta (non-ISO dates), groups and schemas (reference §1.6)."""
    body = okta_create()
    body.update(
        id="23a35c27-23d3-4c03-b4c5-6443c09e7173",
        meta={"resourceType": "User", "created": "04-12-2018 00:00:00", "version": "v1"},
        groups=[{"value": "g1", "display": "G"}],
        schemas=["urn:wrong"],
    )
    attributes = parse_user(body).attributes
    for name in ("id", "meta", "groups", "schemas", "userName", "externalId", "active"):
        assert name not in attributes


def test_read_only_and_core_attribute_names_are_case_insensitive():
    data = parse_user(
        {
            "USERNAME": "a@x.test",
            "Active": "false",
            "DisplayName": "D",
            "ID": "x",
            "Meta": {},
            "GROUPS": [],
            "ExternalID": "e",
            "PassWord": "pw",
            "NAME": {"givenName": "G"},
        }
    )
    assert (data.user_name, data.active, data.display_name) == ("a@x.test", False, "D")
    assert (data.external_id, data.password) == ("e", "pw")
    assert data.attributes == {"displayName": "D", "name": {"givenName": "G"}}


@pytest.mark.parametrize(
    "user_name", ["Test.User@Okta.Local", "  spaced@x.test ", "ÜNÏCODE@x.test", "jdoe"]
)
def test_user_name_is_kept_exactly(user_name):
    body = {"userName": user_name, "emails": [{"value": "w@x.test", "type": "work"}]}
    assert parse_user(body).user_name == user_name


def test_account_email_is_user_name_when_it_is_an_email():
    body = {
        "userName": "Jane.Doe@Example.COM",
        "emails": [{"value": "other@x.test", "primary": True}],
    }
    # the local part keeps its case, the domain is normalised
    assert parse_user(body).email == "Jane.Doe@example.com"


def test_account_email_is_the_primary_email_when_user_name_is_not_one():
    body = {
        "userName": "jdoe",
        "emails": [
            {"value": "home@x.test", "type": "home"},
            {"value": "Work@X.test", "type": "work"},
            {"value": "Primary@X.test", "primary": True},
        ],
    }
    assert parse_user(body).email == "Primary@x.test"


def test_entra_string_primary_counts():
    body = {
        "userName": "jdoe",
        "emails": [{"value": "w@x.test", "type": "work"}, {"value": "p@x.test", "primary": "True"}],
    }
    assert parse_user(body).email == "p@x.test"


def test_account_email_is_the_work_email_without_a_primary():
    body = {
        "userName": "jdoe",
        "emails": [{"value": "home@x.test", "type": "home"}, {"value": "w@x.test", "type": "WORK"}],
    }
    assert parse_user(body).email == "w@x.test"


def test_account_email_falls_back_to_the_first_email():
    body = {"userName": "jdoe", "emails": [{"value": "first@x.test"}, {"value": "second@x.test"}]}
    assert parse_user(body).email == "first@x.test"


def test_a_non_email_primary_falls_back_to_nothing_and_is_refused():
    with pytest.raises(InvalidValue):
        parse_user({"userName": "jdoe", "emails": [{"value": "not-an-email", "primary": True}]})


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "jdoe"},
        {"userName": "jdoe", "emails": []},
        {"userName": "jdoe", "emails": [{"value": "nope", "type": "work"}]},
        {"userName": "Jane Doe <jane@x.test>"},
    ],
)
def test_no_email_at_all_is_400_naming_the_email_username_format(body):
    with pytest.raises(InvalidValue) as info:
        parse_user(body)
    error = answer(info.value)
    assert error.status == 400
    assert error.scim_type == "invalidValue"
    assert "username format to Email" in error.detail
    assert repr(body["userName"]) in error.detail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("True", True),
        ("false", False),
        ("False", False),
        (" FALSE ", False),
    ],
)
def test_active_accepts_entra_string_booleans(value, expected):
    assert parse_user({"userName": "a@x.test", "active": value}).active is expected
    assert as_bool(value, "active") is expected


def test_active_not_sent_is_none():
    # None: a create makes the user active, a PUT leaves the state as it is.
    assert parse_user({"userName": "a@x.test"}).active is None
    assert parse_user({"userName": "a@x.test", "active": None}).active is None


@pytest.mark.parametrize("value", ["yes", "1", "", 1, 0, [], {}])
def test_active_refuses_other_values(value):
    with pytest.raises(InvalidValue) as info:
        parse_user({"userName": "a@x.test", "active": value})
    assert "active" in str(info.value)


def test_empty_strings_and_nulls_are_pruned():
    data = parse_user(
        {
            "userName": "a@x.test",
            "title": "",
            "nickName": None,
            "displayName": "",
            "name": {"givenName": "G", "middleName": "", "familyName": None},
            "addresses": [{"type": "work", "streetAddress": ""}, {"formatted": None}],
            E: {"department": "", "manager": {"value": None}},
            "externalId": "",
        }
    )
    assert data.attributes == {"name": {"givenName": "G"}, "addresses": [{"type": "work"}]}
    assert data.display_name is None
    assert data.external_id is None


def test_prune_keeps_false_zero_and_empty_lists():
    value = {"a": False, "b": 0, "c": [], "d": "", "e": None, "f": {"g": ""}, "h": [None, "", "x"]}
    assert prune(value) == {"a": False, "b": 0, "c": [], "h": ["x"]}


def test_password_is_extracted_and_never_in_attributes():
    data = parse_user({"userName": "a@x.test", "password": "s3cret!", "title": "t"})
    assert data.password == "s3cret!"
    assert "password" not in data.attributes
    assert "s3cret!" not in repr(data.attributes)


def test_empty_or_missing_password():
    data = parse_user({"userName": "a@x.test", "password": ""})
    assert data.password is None
    data = parse_user({"userName": "a@x.test"})
    assert data.password is None


def test_enterprise_extension_is_kept():
    extension = {"department": "Eng", "manager": {"value": "m1"}, "employeeNumber": "701984"}
    data = parse_user({"userName": "a@x.test", E: extension, "schemas": [USER, E]})
    assert data.attributes == {E: extension}


def test_parse_user_does_not_mutate_its_input():
    body = okta_create()
    body["title"] = ""
    before = copy.deepcopy(body)
    parse_user(body)
    assert body == before


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"userName": 5}, "userName"),
        ({"userName": ""}, "userName"),
        ({"userName": "   "}, "userName"),
        ({"userName": None}, "userName"),
        ({}, "userName"),
        ({"userName": "a" * 513 + "@x.test"}, "512"),
        ({"userName": "a@x.test", "password": 5}, "password"),
        ({"userName": "a@x.test", "password": "p" * 1025}, "1024"),
        ({"userName": "a@x.test", "externalId": 5}, "externalId"),
        ({"userName": "a@x.test", "displayName": 5}, "displayName"),
        ({"userName": "a@x.test", "displayName": ["D"]}, "displayName"),
        ({"userName": "a@x.test", "emails": "a@x.test"}, "emails"),
        ({"userName": "a@x.test", "emails": {"value": "a@x.test"}}, "emails"),
        ({"userName": "a@x.test", "emails": ["a@x.test"]}, "emails"),
        ({"userName": "a@x.test", "emails": [{"value": 5}]}, "email"),
        ({"userName": "a@x.test", "emails": [{"type": "work"}]}, "email"),
        # found by fuzzing: a 400-character work email overflowed the filter column (500)
        ({"userName": "a@x.test", "emails": [{"value": "y" * 321, "type": "work"}]}, "email"),
        ({"userName": "a@x.test", "phoneNumbers": ["555"]}, "phoneNumbers"),
        ({"userName": "a@x.test", "roles": "admin"}, "roles"),
        ({"userName": "a@x.test", "name": "Jane Doe"}, "name"),
        ({"userName": "a@x.test", E: "Eng"}, "enterprise"),
    ],
)
def test_type_errors_are_invalid_value(body, word):
    with pytest.raises(InvalidValue) as info:
        parse_user(body)
    assert answer(info.value).status == 400
    assert word in str(info.value)


@pytest.mark.parametrize("body", [None, [], "userName", 5, [{"userName": "a@x.test"}]])
def test_non_object_body_is_invalid_syntax(body):
    with pytest.raises(InvalidSyntax) as info:
        parse_user(body)
    assert info.value.scim_type == "invalidSyntax"


def test_user_name_at_the_length_limit():
    name = "u" * 512
    body = {"userName": name, "emails": [{"value": "a@x.test", "type": "work"}]}
    assert parse_user(body).user_name == name
    with pytest.raises(InvalidValue):
        parse_user({**body, "userName": name + "u"})


def test_primary_email_helper():
    assert primary_email({}) is None
    assert primary_email({"emails": None}) is None
    assert primary_email({"emails": [{"value": 5}, "x", {"type": "work"}]}) is None
    assert primary_email({"emails": [{"value": "a"}, {"value": "b", "primary": True}]}) == "b"


# -- rendering ------------------------------------------------------------------------------------

CREATED = datetime(2024, 1, 2, 3, 4, 5, 123456)  # naive, as SQLite returns it
MODIFIED = datetime(2024, 1, 2, 5, 4, 5, 999000, tzinfo=timezone(timedelta(hours=2)))


def rendered_user(**overrides: t.Any) -> dict[str, t.Any]:
    arguments: dict[str, t.Any] = {
        "scim_id": "u1",
        "user_name": "Test.User@okta.local",
        "external_id": "00u1",
        "active": True,
        "attributes": {
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"value": "test.user@okta.local", "type": "work", "primary": True}],
            "title": "Engineer",
        },
        "groups": [{"value": "g1", "display": "Team", "$ref": f"{BASE}/Groups/g1"}],
        "created": CREATED,
        "modified": MODIFIED,
        "version": 3,
        "location": f"{BASE}/Users/u1",
    }
    arguments.update(overrides)
    return render_user(**arguments)


def test_render_user():
    user = rendered_user()
    assert user == {
        "schemas": [USER],
        "id": "u1",
        "externalId": "00u1",
        "userName": "Test.User@okta.local",
        "active": True,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"value": "test.user@okta.local", "type": "work", "primary": True}],
        "title": "Engineer",
        "groups": [{"value": "g1", "display": "Team", "$ref": f"{BASE}/Groups/g1"}],
        "meta": {
            "resourceType": "User",
            "created": "2024-01-02T03:04:05.123Z",
            "lastModified": "2024-01-02T03:04:05.999Z",
            "location": f"{BASE}/Users/u1",
            "version": 'W/"3"',
        },
    }


def test_render_user_meta_timestamps_are_rfc3339_utc():
    meta = rendered_user()["meta"]
    for key in ("created", "lastModified"):
        assert RFC3339_UTC.match(meta[key]), meta[key]
        parsed = datetime.fromisoformat(meta[key].replace("Z", "+00:00"))
        assert parsed.utcoffset() == timedelta(0)
    assert datetime.fromisoformat(meta["lastModified"].replace("Z", "+00:00")) == MODIFIED.replace(
        microsecond=999000
    )


def test_render_user_schemas_list_the_enterprise_urn_only_when_present():
    assert rendered_user()["schemas"] == [USER]
    user = rendered_user(attributes={E: {"department": "Eng"}})
    assert user["schemas"] == [USER, E]
    assert user[E] == {"department": "Eng"}


def test_render_user_without_external_id_and_inactive():
    user = rendered_user(external_id=None, active=False)
    assert "externalId" not in user
    assert user["active"] is False


def test_render_user_never_returns_a_password():
    data = parse_user({**okta_create(), "password": "s3cret!"})
    user = rendered_user(attributes=data.attributes, groups=[])
    assert "password" not in user
    assert "s3cret!" not in repr(user)
    assert user["groups"] == []
    assert user["displayName"] == "Test User"


def test_render_user_copies_attributes():
    attributes = {"name": {"givenName": "G"}}
    user = rendered_user(attributes=attributes)
    user["name"]["givenName"] = "changed"
    assert attributes == {"name": {"givenName": "G"}}


def test_render_group():
    group = render_group(
        scim_id="g1",
        display_name="Test SCIMv2",
        external_id="ext",
        members=[{"value": "u1", "$ref": f"{BASE}/Users/u1", "type": "User"}],
        created=CREATED,
        modified=CREATED,
        version=1,
        location=f"{BASE}/Groups/g1",
    )
    assert group == {
        "schemas": [GROUP],
        "id": "g1",
        "externalId": "ext",
        "displayName": "Test SCIMv2",
        "members": [{"value": "u1", "$ref": f"{BASE}/Users/u1", "type": "User"}],
        "meta": {
            "resourceType": "Group",
            "created": "2024-01-02T03:04:05.123Z",
            "lastModified": "2024-01-02T03:04:05.123Z",
            "location": f"{BASE}/Groups/g1",
            "version": 'W/"1"',
        },
    }


def test_render_group_omits_members_when_none_and_keeps_an_empty_list():
    arguments: dict[str, t.Any] = {
        "scim_id": "g1",
        "display_name": "G",
        "external_id": None,
        "created": CREATED,
        "modified": CREATED,
        "version": 2,
        "location": "L",
    }
    assert "members" not in render_group(members=None, **arguments)
    group = render_group(members=[], **arguments)
    assert group["members"] == []
    assert "externalId" not in group


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05.000Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=timezone.utc), "2024-01-02T03:04:05.999Z"),
        (
            datetime(2024, 1, 2, 0, 30, tzinfo=timezone(timedelta(hours=-5))),
            "2024-01-02T05:30:00.000Z",
        ),
        (
            datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
            "2023-12-31T23:30:00.000Z",
        ),
    ],
)
def test_timestamp(value, text):
    assert timestamp(value) == text


def test_etag_is_weak():
    assert etag(1) == 'W/"1"'
    assert etag(42) == 'W/"42"'


# -- project (attributes / excludedAttributes) ----------------------------------------------------


def enterprise_user() -> dict[str, t.Any]:
    return rendered_user(
        attributes={
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [
                {"value": "w@x.test", "type": "work", "primary": True},
                {"value": "h@x.test", "type": "home"},
            ],
            "title": "Engineer",
            E: {"department": "Eng", "manager": {"value": "m1", "displayName": "Boss"}},
        }
    )


def test_project_without_lists_returns_everything():
    user = enterprise_user()
    assert project(user) == user
    assert project(user, [], []) == user


def test_project_attributes_keeps_always_returned_ones():
    assert project(enterprise_user(), ["userName"]) == {
        "schemas": [USER, E],
        "id": "u1",
        "active": True,
        "userName": "Test.User@okta.local",
    }


def test_project_attributes_with_sub_attributes_and_case_insensitive_names():
    result = project(enterprise_user(), ["NAME.givenName", "emails.value", "meta.version"])
    assert result["name"] == {"givenName": "Test"}
    assert result["emails"] == [{"value": "w@x.test"}, {"value": "h@x.test"}]
    assert result["meta"] == {"version": 'W/"3"'}
    assert "userName" not in result
    assert "title" not in result


def test_project_attributes_with_urn_names():
    result = project(enterprise_user(), [f"{E}:department", f"{USER}:userName"])
    assert result[E] == {"department": "Eng"}
    assert result["userName"] == "Test.User@okta.local"
    result = project(enterprise_user(), [f"{E}:manager.value"])
    assert result[E] == {"manager": {"value": "m1"}}
    result = project(enterprise_user(), [E.upper()])
    assert result[E] == {"department": "Eng", "manager": {"value": "m1", "displayName": "Boss"}}


def test_project_attributes_ignores_unknown_names():
    assert project(enterprise_user(), ["nosuch", "name.nosuch"]) == {
        "schemas": [USER, E],
        "id": "u1",
        "active": True,
        "name": {},
    }


def test_project_excluded_attributes():
    result = project(
        enterprise_user(),
        excluded=["groups", "Emails.type", "name.familyName", f"{E}:manager", f"{USER}:title"],
    )
    assert "groups" not in result
    assert "title" not in result
    assert result["emails"] == [{"value": "w@x.test", "primary": True}, {"value": "h@x.test"}]
    assert result["name"] == {"givenName": "Test"}
    assert result[E] == {"department": "Eng"}
    assert result["userName"] == "Test.User@okta.local"


def test_project_excluded_never_removes_always_returned_attributes():
    result = project(enterprise_user(), excluded=["schemas", "id", "active"])
    assert result["schemas"] == [USER, E]
    assert result["id"] == "u1"
    assert result["active"] is True


@pytest.mark.parametrize("name", ["ID", "Active"])
def test_excluded_attributes_never_remove_always_returned_ones_in_any_case(name):
    """Attribute names are case-insensitive (RFC 7643 §2.1); id/schemas/active are "always".

    BUG: project() checks ``parts[0] in ALWAYS_RETURNED`` case-sensitively but
    drops case-insensitively, so ``excludedAttributes=ID`` removes ``id``.
    """
    result = project(enterprise_user(), excluded=[name])
    assert result == enterprise_user()


def test_project_excludes_group_members_as_entra_asks():
    group = render_group(
        scim_id="g1",
        display_name="G",
        external_id=None,
        members=[{"value": "u1"}],
        created=CREATED,
        modified=CREATED,
        version=1,
        location="L",
    )
    result = project(group, excluded=["members"])
    assert "members" not in result
    assert result["displayName"] == "G"
    assert project(group, ["displayName"]) == {"schemas": [GROUP], "id": "g1", "displayName": "G"}


def test_project_does_not_mutate_the_resource():
    user = enterprise_user()
    before = copy.deepcopy(user)
    project(user, excluded=["emails.type", f"{E}:manager.displayName"])
    project(user, ["name.givenName"])["name"]["givenName"] = "changed"
    assert user == before


# -- parse_group / member_values ------------------------------------------------------------------


def test_parse_okta_group_create():
    data = parse_group({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})
    assert (data.display_name, data.external_id, data.member_ids) == ("Test SCIMv2", None, [])


def test_parse_group_with_members_as_okta_2018_and_aiw_send_them():
    data = parse_group(
        {
            "schemas": [GROUP],
            "id": "ignored",
            "displayName": "  AIW Group ",
            "externalId": "ext",
            "members": [
                {"value": "u1", "display": "steve@example.com"},
                {"value": "u2"},
                {"value": "u1", "display": "again"},
            ],
        }
    )
    assert data.display_name == "AIW Group"
    assert data.external_id == "ext"
    assert data.member_ids == ["u1", "u2"]


def test_parse_group_without_members_is_none_and_names_are_case_insensitive():
    data = parse_group({"DISPLAYNAME": "G", "ExternalId": "", "MEMBERS": None})
    assert (data.display_name, data.external_id, data.member_ids) == ("G", None, None)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (None, InvalidSyntax),
        ([], InvalidSyntax),
        ({}, InvalidValue),
        ({"displayName": ""}, InvalidValue),
        ({"displayName": "  "}, InvalidValue),
        ({"displayName": 5}, InvalidValue),
        ({"displayName": "G", "externalId": 5}, InvalidValue),
        ({"displayName": "G", "members": "u1"}, InvalidValue),
        ({"displayName": "G", "members": [{"value": ""}]}, InvalidValue),
        ({"displayName": "G", "members": [{"value": 1}]}, InvalidValue),
        ({"displayName": "G", "members": [{"display": "x"}]}, InvalidValue),
        ({"displayName": "G", "members": ["u1"]}, InvalidValue),
    ],
)
def test_parse_group_errors(body, error):
    with pytest.raises(error):
        parse_group(body)


def test_member_values():
    assert member_values([]) == []
    assert member_values({"value": "u1"}) == ["u1"]
    assert member_values([{"value": "B"}, {"value": "a"}, {"value": "B"}]) == ["B", "a"]
    assert member_values([{"value": "U1"}, {"value": "u1"}]) == ["U1", "u1"]
    with pytest.raises(InvalidValue):
        member_values(None)


# -- discovery ------------------------------------------------------------------------------------


def test_service_provider_config_is_truthful():
    config = service_provider_config(BASE, max_results=200, docs_url=None)
    assert config["schemas"] == [SERVICE_PROVIDER_CONFIG]
    assert config["patch"] == {"supported": True}
    assert config["etag"] == {"supported": True}
    assert config["changePassword"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["bulk"]["supported"] is False
    assert config["sort"] == {"supported": False}
    assert [s["type"] for s in config["authenticationSchemes"]] == ["oauthbearertoken"]
    assert config["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": f"{BASE}/ServiceProviderConfig",
    }
    assert "documentationUri" not in config
    with_docs = service_provider_config(BASE, max_results=5, docs_url="https://docs.test/scim")
    assert with_docs["documentationUri"] == "https://docs.test/scim"
    assert with_docs["filter"]["maxResults"] == 5


def test_resource_types():
    user, group = resource_types(BASE)
    assert user["schemas"] == [RESOURCE_TYPE]
    assert (user["id"], user["endpoint"], user["schema"]) == ("User", "/Users", USER)
    assert user["schemaExtensions"] == [{"schema": E, "required": False}]
    assert user["meta"]["location"] == f"{BASE}/ResourceTypes/User"
    assert (group["id"], group["endpoint"], group["schema"]) == ("Group", "/Groups", GROUP)
    assert "schemaExtensions" not in group
    assert group["meta"]["location"] == f"{BASE}/ResourceTypes/Group"


def by_name(attributes: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    return {a["name"]: a for a in attributes}


def test_schemas_list_user_enterprise_user_and_group():
    documents = schemas(BASE)
    assert [d["id"] for d in documents] == [USER, E, GROUP]
    for document in documents:
        assert document["schemas"] == [SCHEMA]
        assert document["meta"] == {
            "resourceType": "Schema",
            "location": f"{BASE}/Schemas/{document['id']}",
        }


def test_user_schema_requires_emails_and_email_value():
    user = by_name(schemas(BASE)[0]["attributes"])
    assert user["userName"]["required"] is True
    assert user["userName"]["uniqueness"] == "server"
    assert user["userName"]["caseExact"] is False
    assert user["emails"]["required"] is True
    assert user["emails"]["multiValued"] is True
    assert by_name(user["emails"]["subAttributes"])["value"]["required"] is True
    assert user["password"]["mutability"] == "writeOnly"
    assert user["password"]["returned"] == "never"
    assert user["groups"]["mutability"] == "readOnly"
    assert user["active"]["type"] == "boolean"


def test_group_members_are_users_without_display():
    group = by_name(schemas(BASE)[2]["attributes"])
    assert group["displayName"]["required"] is True
    members = by_name(group["members"]["subAttributes"])
    assert set(members) == {"value", "$ref", "type"}
    assert "display" not in members
    assert members["$ref"]["referenceTypes"] == ["User"]


def test_enterprise_schema_attributes():
    enterprise = by_name(schemas(BASE)[1]["attributes"])
    assert set(enterprise) >= {
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    }
    assert not any(a.get("required") for a in enterprise.values())


def test_schemas_are_fresh_copies():
    schemas(BASE)[0]["attributes"].clear()
    assert schemas(BASE)[0]["attributes"]


def test_list_response():
    assert list_response([{"id": "a"}, {"id": "b"}]) == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 2,
        "startIndex": 1,
        "itemsPerPage": 2,
        "Resources": [{"id": "a"}, {"id": "b"}],
    }
    assert list_response([])["totalResults"] == 0


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "status", "scim_type"),
    [
        (errors.InvalidFilter, 400, "invalidFilter"),
        (errors.TooMany, 400, "tooMany"),
        (errors.InvalidSyntax, 400, "invalidSyntax"),
        (errors.InvalidPath, 400, "invalidPath"),
        (errors.NoTarget, 400, "noTarget"),
        (errors.InvalidValue, 400, "invalidValue"),
        (errors.Unauthorized, 401, None),
        (errors.Forbidden, 403, None),
        (errors.NotFound, 404, None),
        (errors.MethodNotAllowed, 405, None),
        (errors.Uniqueness, 409, "uniqueness"),
        (errors.PreconditionFailed, 412, None),
        (errors.PayloadTooLarge, 413, None),
        (errors.UnsupportedMediaType, 415, None),
        (errors.TooManyRequests, 429, None),
        (errors.ServerError, 500, None),
        (errors.NotImplementedByServer, 501, None),
    ],
)
def test_error_bodies_follow_rfc_7644(cls, status, scim_type):
    error = cls()
    body = error.to_dict()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert isinstance(body["detail"], str) and body["detail"]
    assert body.get("scimType") == scim_type
    assert error.headers == {}
    assert str(error) == error.detail


def test_error_detail_and_headers():
    error = errors.TooManyRequests("slow down", headers={"Retry-After": "3"})
    assert error.to_dict()["detail"] == "slow down"
    assert error.headers == {"Retry-After": "3"}
