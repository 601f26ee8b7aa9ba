"""Fuzzing ``PATCH /Users/{id}`` and ``PATCH /Groups/{id}``: generated PatchOp bodies,
paths (with value filters and URNs) and values, well-formed or not.
Invariants: :mod:`tests.scim_api.fuzz`.
"""

from __future__ import annotations

import typing as t

from hypothesis import given
from hypothesis import strategies as st

from flask_okta_scim.scim.constants import ENTERPRISE_USER
from flask_okta_scim.scim.constants import GROUP
from flask_okta_scim.scim.constants import PATCH_OP
from flask_okta_scim.scim.constants import USER
from tests.conftest import user_body
from tests.scim_api.fuzz.harness import World
from tests.scim_api.fuzz.harness import _created
from tests.scim_api.fuzz.harness import assert_consistent
from tests.scim_api.fuzz.harness import call
from tests.scim_api.fuzz.harness import check
from tests.scim_api.fuzz.harness import check_group
from tests.scim_api.fuzz.harness import check_write
from tests.scim_api.fuzz.harness import fuzz_settings
from tests.scim_api.fuzz.harness import large_examples_allowed
from tests.scim_api.fuzz.harness import quote
from tests.scim_api.fuzz.strategies import _DELETE
from tests.scim_api.fuzz.strategies import WRONG_VALUES
from tests.scim_api.fuzz.strategies import any_text
from tests.scim_api.fuzz.strategies import filters
from tests.scim_api.fuzz.strategies import hazard_text
from tests.scim_api.fuzz.strategies import json_scalars
from tests.scim_api.fuzz.strategies import json_values
from tests.scim_api.fuzz.strategies import random_case

pytestmark = large_examples_allowed


_USER_PATH_ATTRIBUTES = [
    "userName",
    "name",
    "displayName",
    "nickName",
    "title",
    "locale",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "addresses",
    "externalId",
    "groups",
    "id",
    "meta",
    "schemas",
    "roles",
]
_SUB_ATTRIBUTES = ["givenName", "familyName", "value", "type", "primary", "display", "manager"]
_URNS = [USER, ENTERPRISE_USER, "urn:example:params:scim:schemas:extension:acme:2.0:User", GROUP]
_VALUE_FILTERS = [
    'type eq "work"',
    "primary eq true",
    'type eq "home" and primary eq false',
    'value eq "x" or value eq "y"',
    'not (type eq "work")',
    "type pr",
    "value gt 5",
    "display eq null",
    'value co "@"',
    "",
    '"',
    "type eq",
]


def patch_paths(attribute_names: t.Sequence[str], value_filters: st.SearchStrategy[str]) -> t.Any:
    """PATCH paths: ``attr``, ``attr.sub``, ``attr[filter]``, ``attr[filter].sub``, URN-prefixed
    forms, and garbage (including values that are not strings)."""
    attribute = st.one_of(
        random_case(attribute_names),
        st.from_regex(r"[A-Za-z$][\w$-]{0,10}", fullmatch=True),
    )
    sub = st.one_of(
        random_case(_SUB_ATTRIBUTES), st.from_regex(r"[A-Za-z$]\w{0,6}", fullmatch=True)
    )
    bare = st.one_of(
        attribute,
        st.tuples(attribute, sub).map(".".join),
        st.tuples(attribute, value_filters).map(lambda p: f"{p[0]}[{p[1]}]"),
        st.tuples(attribute, value_filters, sub).map(lambda p: f"{p[0]}[{p[1]}].{p[2]}"),
    )
    return st.one_of(
        bare,
        bare,
        bare,
        st.tuples(random_case(_URNS), bare).map(":".join),
        random_case(_URNS),
        st.sampled_from(["", " ", ".", "[]", "emails[", "emails]", "a..b", "urn:", "urn:x:"]),
        any_text,
        st.integers(1001, 1100).map(lambda n: "a" * n),
        json_values.filter(lambda v: not isinstance(v, str)),
    )


def _chance(numerator: int, denominator: int) -> st.SearchStrategy[bool]:
    """True with about this probability (shrinking towards True)."""
    return st.sampled_from([True] * numerator + [False] * (denominator - numerator))


@st.composite
def operations(
    draw: st.DrawFn,
    paths: st.SearchStrategy[t.Any],
    values: st.SearchStrategy[t.Any],
    pathless: st.SearchStrategy[t.Any],
    typical: st.SearchStrategy[t.Any],
) -> t.Any:
    """One PatchOp operation: half the time ``typical`` (a well-formed operation on a real
    attribute, with a hazardous value), else anything from the grammar, sometimes with keys
    missing, misspelt or extra."""
    if draw(_chance(1, 2)):
        return draw(typical)
    if draw(_chance(1, 20)):
        return draw(json_values)  # not an object at all
    valid_op = st.one_of(
        st.sampled_from(["add", "remove", "replace"]), random_case(["add", "remove", "replace"])
    )
    junk_op = st.one_of(st.sampled_from(["", "delete", "move", "copy", "test"]), json_scalars)
    op = draw(valid_op if draw(_chance(17, 20)) else junk_op)
    operation: dict[str, t.Any] = {}
    if draw(_chance(19, 20)):
        operation[draw(random_case(["op"]))] = op
    has_path = draw(_chance(7, 10))
    if has_path:
        operation[draw(random_case(["path"]))] = draw(paths)
    if draw(_chance(8, 10)):
        operation[draw(random_case(["value"]))] = draw(values if has_path else pathless)
    if draw(_chance(1, 10)):
        operation.update(draw(st.dictionaries(any_text, json_values, max_size=2)))
    return operation


@st.composite
def patch_bodies(draw: st.DrawFn, operation: st.SearchStrategy[t.Any]) -> t.Any:
    """A PatchOp body: mostly well-formed around generated operations, sometimes not."""
    operations_list = st.lists(operation, min_size=1, max_size=3)
    if draw(_chance(7, 10)):
        return {"schemas": [PATCH_OP], "Operations": draw(operations_list)}
    if draw(_chance(1, 10)):
        return draw(json_values)
    body: dict[str, t.Any] = {}
    schemas = draw(
        st.one_of(
            st.just([PATCH_OP]),
            st.just(_DELETE),
            st.sampled_from([[USER], PATCH_OP, [], [PATCH_OP, USER], None]),
            json_values,
        )
    )
    if schemas is not _DELETE:
        body["schemas"] = schemas
    key = draw(st.one_of(random_case(["Operations"]), st.sampled_from(["Ops", "operation"])))
    body[key] = draw(
        st.one_of(
            operations_list,
            st.just([]),
            operation,  # a single operation, not in a list
            json_values,
        )
    )
    if draw(_chance(1, 5)):
        body.update(draw(st.dictionaries(any_text, json_values, max_size=2)))
    return body


_user_patch_values = st.one_of(
    json_values,
    any_text,
    st.booleans(),
    st.sampled_from(["True", "false", "ada@example.com", "not-an-email", ""]),
    WRONG_VALUES["emails"],
    WRONG_VALUES["name"],
    st.dictionaries(random_case(_SUB_ATTRIBUTES), json_values, max_size=3),
)
_user_pathless = st.one_of(
    st.dictionaries(
        st.one_of(
            random_case(_USER_PATH_ATTRIBUTES),
            st.tuples(random_case(_URNS), random_case(_USER_PATH_ATTRIBUTES)).map(":".join),
            st.just(f"{ENTERPRISE_USER}:manager.value"),
            any_text,
        ),
        _user_patch_values,
        max_size=3,
    ),
    json_values,
)
user_patch_bodies = patch_bodies(
    operations(
        patch_paths(
            _USER_PATH_ATTRIBUTES,
            st.one_of(
                st.sampled_from(_VALUE_FILTERS), filters(["type", "primary", "value"]), any_text
            ),
        ),
        _user_patch_values,
        _user_pathless,
        st.fixed_dictionaries(
            {
                "op": st.one_of(
                    st.sampled_from(["add", "replace"]), random_case(["add", "replace"])
                ),
                "path": st.sampled_from(
                    [
                        "userName",
                        "displayName",
                        "externalId",
                        "password",
                        "active",
                        "title",
                        "name.givenName",
                        'emails[type eq "work"].value',
                        "emails[primary eq true].value",
                        f"{ENTERPRISE_USER}:department",
                        f"{ENTERPRISE_USER}:manager.value",
                    ]
                ),
                "value": st.one_of(hazard_text, any_text, json_scalars),
            }
        ),
    )
)


def test_patch_users_never_crash(world: World) -> None:
    """``PATCH /Users/{id}`` with generated PatchOp bodies."""
    targets = st.one_of(st.sampled_from(["fresh", "fresh", "fresh", "seeded", "other"]), any_text)

    @fuzz_settings(150)
    @given(target=targets, body=user_patch_bodies)
    def run(target: str, body: t.Any) -> None:
        foreign = target not in ("fresh", "seeded")
        if target == "fresh":
            created = world.scim.post("/Users", user_body(world.unique(), title="Engineer"))
            scim_id = _created(created)["id"]
        elif target == "seeded":
            scim_id = world.user_ids[1]
        elif target == "other":
            scim_id = world.other_user_ids[0]
        else:
            scim_id = target
        response, request = call(
            world.scim, "PATCH", f"/Users/{quote(scim_id, safe='')}", json_body=body
        )
        check_write(world.scim, response, request, "Users")
        assert response.status_code in (200, 400, 404, 409), request
        if foreign:
            assert response.status_code in (400, 404), request

    run()
    assert_consistent(world)


def test_patch_groups_never_crash(world: World) -> None:
    """``PATCH /Groups/{id}`` with generated PatchOp bodies; member values are this
    organization's users (active or not), another organization's users, or garbage."""
    ids = st.one_of(
        st.sampled_from(world.user_ids),
        st.sampled_from(world.other_user_ids),
        st.sampled_from(world.group_ids),
        st.sampled_from(["", "nobody", "00000000-0000-0000-0000-000000000000"]),
        any_text,
    )
    member = st.one_of(
        st.fixed_dictionaries({"value": ids}, optional={"display": json_scalars, "$ref": any_text}),
        st.fixed_dictionaries({"value": json_scalars}),
        ids,
        json_values,
    )
    members = st.one_of(st.lists(member, max_size=4), member, st.none())
    member_filters = st.one_of(
        ids.map(lambda i: f'value eq "{i}"'),
        st.lists(ids, min_size=1, max_size=3).map(
            lambda xs: " or ".join(f'value eq "{i}"' for i in xs)
        ),
        st.sampled_from(
            ['display eq "x"', 'value ne "x"', "value pr", "value eq 5", "value eq null", ""]
        ),
        filters(["value", "display", "type"], world.user_ids),
    )
    group_attributes = ["displayName", "members", "externalId", "id", "meta", "schemas"]
    values = st.one_of(members, any_text, st.sampled_from(["", " ", "Engineering", "EMPTY"]))
    pathless = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "id": ids,
                "displayName": st.one_of(any_text, json_scalars),
                "members": members,
                "externalId": json_scalars,
                f"{GROUP}:displayName": any_text,
            },
        ),
        st.dictionaries(st.one_of(random_case(group_attributes), any_text), values, max_size=3),
        json_values,
    )
    group_patch_bodies = patch_bodies(
        operations(
            st.one_of(
                patch_paths(group_attributes, member_filters),
                member_filters.map(lambda f: f"members[{f}]"),
            ),
            values,
            pathless,
            st.one_of(
                st.fixed_dictionaries(
                    {
                        "op": random_case(["add", "replace"]),
                        "path": random_case(["displayName", "externalId"]),
                        "value": st.one_of(hazard_text, any_text, json_scalars),
                    }
                ),
                st.fixed_dictionaries(
                    {"op": random_case(["add", "replace", "remove"]), "path": st.just("members")},
                    optional={"value": members},
                ),
                st.fixed_dictionaries(
                    {
                        "op": random_case(["remove"]),
                        "path": member_filters.map("members[{}]".format),
                    }
                ),
                st.fixed_dictionaries(  # Okta's rename
                    {
                        "op": st.just("replace"),
                        "value": st.fixed_dictionaries(
                            {"id": ids, "displayName": st.one_of(hazard_text, any_text)}
                        ),
                    }
                ),
            ),
        )
    )
    targets = st.one_of(st.sampled_from(["fresh", "fresh", "fresh", "seeded", "other"]), any_text)

    @fuzz_settings(150)
    @given(target=targets, body=group_patch_bodies, excluded=st.booleans())
    def run(target: str, body: t.Any, excluded: bool) -> None:
        foreign = target not in ("fresh", "seeded")
        if target == "fresh":
            group = {
                "schemas": [GROUP],
                "displayName": world.unique_group(),
                "members": [{"value": world.user_ids[0]}],
            }
            scim_id = _created(world.scim.post("/Groups", group))["id"]
        elif target == "seeded":
            scim_id = world.group_ids[0]
        elif target == "other":
            scim_id = world.other_group_ids[0]
        else:
            scim_id = target
        query = {"excludedAttributes": "members"} if excluded else None
        response, request = call(
            world.scim,
            "PATCH",
            f"/Groups/{quote(scim_id, safe='')}",
            json_body=body,
            query=query,
        )
        result = check(response, request)
        assert response.status_code in (200, 204, 400, 404, 409), request
        if foreign:
            assert response.status_code in (400, 404), request
        if result is not None:
            check_group(result, members=not excluded)
        if response.status_code in (200, 204):  # 204 unless attributes are asked for
            fetched, again = call(world.scim, "GET", f"/Groups/{scim_id}")
            group = check(fetched, again)
            check_group(group)
            assert not {m["value"] for m in group["members"]} & set(world.other_user_ids), (
                request,
                group,
            )

    run()
    assert_consistent(world)
