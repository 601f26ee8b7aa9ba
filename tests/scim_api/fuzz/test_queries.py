"""Fuzzing ``GET /Users`` and ``GET /Groups``: generated filters, and paging and
projection parameters of any form. Invariants: :mod:`tests.scim_api.fuzz`.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_okta_scim.scim.constants import ENTERPRISE_USER
from flask_okta_scim.scim.constants import USER
from tests.scim_api.fuzz.harness import World
from tests.scim_api.fuzz.harness import assert_consistent
from tests.scim_api.fuzz.harness import call
from tests.scim_api.fuzz.harness import check
from tests.scim_api.fuzz.harness import check_list
from tests.scim_api.fuzz.harness import fuzz_settings
from tests.scim_api.fuzz.harness import large_examples_allowed
from tests.scim_api.fuzz.strategies import _GROUP_ATTRIBUTES
from tests.scim_api.fuzz.strategies import _USER_ATTRIBUTES
from tests.scim_api.fuzz.strategies import any_text
from tests.scim_api.fuzz.strategies import filters
from tests.scim_api.fuzz.strategies import paging_values
from tests.scim_api.fuzz.strategies import random_case

pytestmark = large_examples_allowed


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_filters_never_crash(world: World, kind: str) -> None:
    """``GET /Users?filter=`` and ``/Groups?filter=``: 200 ListResponse or a 400 SCIM error."""
    attributes = _USER_ATTRIBUTES if kind == "Users" else _GROUP_ATTRIBUTES
    ids = world.user_ids + world.other_user_ids + world.group_ids

    @fuzz_settings(150)
    @given(filter_text=filters(attributes, ids))
    def run(filter_text: str) -> None:
        response, request = call(world.scim, "GET", f"/{kind}", query={"filter": filter_text})
        body = check(response, request)
        assert response.status_code in (200, 400), request
        if body is not None:
            check_list(body)
            found = {r["id"] for r in body["Resources"]}
            assert not found & set(world.other_user_ids + world.other_group_ids), request

    run()
    assert_consistent(world)


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_paging_and_projection_never_crash(world: World, kind: str) -> None:
    """``startIndex``, ``count``, ``attributes`` and ``excludedAttributes`` of any form."""
    names = st.lists(
        st.one_of(
            random_case(["userName", "emails", "emails.value", "name.givenName", "members"]),
            random_case(["id", "schemas", "meta", "meta.location", "groups", "members.value"]),
            st.just(f"{ENTERPRISE_USER}:department"),
            st.just(f"{USER}:name.familyName"),
            any_text,
        ),
        max_size=4,
    ).map(",".join)

    @fuzz_settings(100)
    @given(
        start=st.one_of(st.none(), paging_values),
        count=st.one_of(st.none(), paging_values),
        attributes=st.one_of(st.none(), names),
        excluded=st.one_of(st.none(), names),
    )
    def run(
        start: str | None, count: str | None, attributes: str | None, excluded: str | None
    ) -> None:
        query = {
            k: v
            for k, v in {
                "startIndex": start,
                "count": count,
                "attributes": attributes,
                "excludedAttributes": excluded,
            }.items()
            if v is not None
        }
        response, request = call(world.scim, "GET", f"/{kind}", query=query)
        body = check(response, request)
        assert response.status_code in (200, 400), request
        if body is not None:
            check_list(body)

    run()
    assert_consistent(world)
