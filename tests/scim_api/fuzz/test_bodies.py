"""Fuzzing ``POST`` and ``PUT`` of Users and Groups: valid Okta bodies with wrong values,
unknown attributes or attributes left out, and arbitrary JSON; on this organization's
resources, another organization's, and unknown ids. Invariants: :mod:`tests.scim_api.fuzz`.
"""

from __future__ import annotations

import typing as t

from hypothesis import given
from hypothesis import strategies as st

from flask_okta_scim.scim.constants import GROUP
from tests.conftest import user_body
from tests.scim_api.fuzz.harness import World
from tests.scim_api.fuzz.harness import _created
from tests.scim_api.fuzz.harness import assert_consistent
from tests.scim_api.fuzz.harness import call
from tests.scim_api.fuzz.harness import check_write
from tests.scim_api.fuzz.harness import fuzz_settings
from tests.scim_api.fuzz.harness import large_examples_allowed
from tests.scim_api.fuzz.harness import quote
from tests.scim_api.fuzz.strategies import _DELETE
from tests.scim_api.fuzz.strategies import _EXISTING_NAME
from tests.scim_api.fuzz.strategies import _EXISTING_NAME_UPPER
from tests.scim_api.fuzz.strategies import WRONG_VALUES
from tests.scim_api.fuzz.strategies import any_text
from tests.scim_api.fuzz.strategies import json_scalars
from tests.scim_api.fuzz.strategies import json_values
from tests.scim_api.fuzz.strategies import random_case

pytestmark = large_examples_allowed


mutations = st.lists(
    st.one_of(
        st.sampled_from(sorted(WRONG_VALUES)).flatmap(
            lambda key: st.tuples(
                st.one_of(st.just(key), random_case([key])),
                st.one_of(WRONG_VALUES[key], st.just(_DELETE)),
            )
        ),
        st.tuples(any_text, json_values),  # an attribute nobody knows
    ),
    min_size=1,
    max_size=4,
)


def almost_valid_user(w: World, changes: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
    """A valid Okta User body with ``changes`` applied (keys matched case-insensitively)."""
    body = user_body(w.unique())
    for key, value in changes:
        for existing in [k for k in body if k.lower() == key.lower()]:
            del body[existing]
        if value is _DELETE:
            continue
        if value is _EXISTING_NAME:
            value = w.user_names[0]
        elif value is _EXISTING_NAME_UPPER:
            value = w.user_names[1].upper()
        body[key] = value
    return body


user_bodies = st.one_of(
    st.tuples(st.just("almost"), mutations),
    st.tuples(st.just("almost"), mutations),
    st.tuples(st.just("almost"), mutations),
    st.tuples(st.just("json"), json_values),
    st.tuples(
        st.just("json"),
        st.dictionaries(
            st.one_of(random_case(sorted(WRONG_VALUES)), any_text), json_values, max_size=6
        ),
    ),
)


def make_user_body(w: World, drawn: tuple[str, t.Any]) -> t.Any:
    kind, payload = drawn
    return almost_valid_user(w, payload) if kind == "almost" else payload


def test_post_users_never_crash(world: World) -> None:
    """``POST /Users`` with generated bodies: 201 User, or a 4xx SCIM error."""

    @fuzz_settings(150)
    @given(drawn=user_bodies)
    def run(drawn: tuple[str, t.Any]) -> None:
        body = make_user_body(world, drawn)
        response, request = call(world.scim, "POST", "/Users", json_body=body)
        created = check_write(world.scim, response, request, "Users")
        assert response.status_code in (201, 400, 409), request
        if created is not None:
            assert response.headers["Location"] == created["meta"]["location"]

    run()
    assert_consistent(world)


def test_put_users_never_crash(world: World) -> None:
    """``PUT /Users/{id}`` with generated bodies, on this organization's users, another
    organization's users and unknown ids: never a 2xx for a user that is not ours."""
    targets = st.one_of(
        st.sampled_from(["fresh", "fresh", "seeded", "other"]),
        st.one_of(any_text, st.just("00000000-0000-0000-0000-000000000000")),
    )

    @fuzz_settings(120)
    @given(target=targets, drawn=user_bodies, if_match=st.none() | st.sampled_from(["*", 'W/"1"']))
    def run(target: str, drawn: tuple[str, t.Any], if_match: str | None) -> None:
        foreign = target not in ("fresh", "seeded")
        if target == "fresh":
            scim_id = _created(world.scim.post("/Users", user_body(world.unique())))["id"]
        elif target == "seeded":
            scim_id = world.user_ids[1]
        elif target == "other":
            scim_id = world.other_user_ids[0]
        else:
            scim_id = target
        body = make_user_body(world, drawn)
        response, request = call(
            world.scim,
            "PUT",
            f"/Users/{quote(scim_id, safe='')}",
            json_body=body,
            headers={"If-Match": if_match} if if_match else None,
        )
        check_write(world.scim, response, request, "Users")
        assert response.status_code in (200, 400, 404, 409, 412), request
        if foreign:
            # Another organization's id is never reached: a 404, or a 400 for a body that
            # is refused before any lookup (the same answer whatever the id).
            assert response.status_code in (400, 404), request

    run()
    assert_consistent(world)


def test_post_and_put_groups_never_crash(world: World) -> None:
    """``POST /Groups`` and ``PUT /Groups/{id}`` with generated bodies."""
    member_ids = st.sampled_from(world.user_ids + world.other_user_ids + ["", "nobody"])
    members = st.one_of(
        st.lists(
            st.fixed_dictionaries(
                {"value": st.one_of(member_ids, json_scalars)}, optional={"display": json_values}
            ),
            max_size=4,
        ),
        st.lists(member_ids, max_size=3),
        st.fixed_dictionaries({"value": member_ids}),
        json_values,
    )
    bodies = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "schemas": st.one_of(st.just([GROUP]), json_values),
                "displayName": st.one_of(st.just("UNIQUE"), st.just("Engineering"), json_values),
                "members": members,
                "externalId": json_scalars,
                "id": json_scalars,
            },
        ),
        json_values,
    )

    @fuzz_settings(120)
    @given(method=st.sampled_from(["POST", "PUT"]), body=bodies, seeded=st.booleans())
    def run(method: str, body: t.Any, seeded: bool) -> None:
        if isinstance(body, dict) and body.get("displayName") == "UNIQUE":
            body = {**body, "displayName": world.unique_group()}
        if method == "POST":
            response, request = call(world.scim, "POST", "/Groups", json_body=body)
            check_write(world.scim, response, request, "Groups")
            assert response.status_code in (201, 400, 409), request
            return
        if seeded:
            scim_id = world.group_ids[1]
        else:
            group = {"schemas": [GROUP], "displayName": world.unique_group()}
            scim_id = _created(world.scim.post("/Groups", group))["id"]
        response, request = call(world.scim, "PUT", f"/Groups/{scim_id}", json_body=body)
        check_write(world.scim, response, request, "Groups")
        assert response.status_code in (200, 400, 409), request

    run()
    assert_consistent(world)
