"""The SCIM attribute table (``scim/attributes.py``) and where persistence stores each attribute
(``sqla/scim_query.py``) can never disagree: same names, and only case-insensitive strings are
kept lower-cased."""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import pytest

from flask_okta_scim.scim.attributes import GROUP_FILTERS
from flask_okta_scim.scim.attributes import USER_FILTERS
from flask_okta_scim.scim.filters import AttributeMap
from flask_okta_scim.sqla.models import Models
from flask_okta_scim.sqla.scim_query import Condition
from flask_okta_scim.sqla.scim_query import Elements
from flask_okta_scim.sqla.scim_query import Lowered
from flask_okta_scim.sqla.scim_query import group_storage
from flask_okta_scim.sqla.scim_query import user_storage
from sample_app.models import okta

CASES = [
    pytest.param(USER_FILTERS, user_storage, id="User"),
    pytest.param(GROUP_FILTERS, group_storage, id="Group"),
]


@pytest.mark.parametrize(("attributes", "storage"), CASES)
def test_every_filterable_attribute_is_stored_and_nothing_else(
    attributes: AttributeMap, storage: Callable[[Models], dict[str, t.Any]]
) -> None:
    canonical = {a.name for a in attributes.values()}
    parents = {a.parent for a in attributes.values() if a.parent}
    assert canonical | parents == set(storage(okta.models))


def test_multi_valued_attributes_are_elements_of_another_table() -> None:
    stored = user_storage(okta.models)
    assert isinstance(stored["emails"], Elements)
    for name in ("emails.value", "emails.type"):
        assert isinstance(stored[name], Lowered)
        assert stored[name].column.table is okta.models.identity_email.__table__


@pytest.mark.parametrize(("attributes", "storage"), CASES)
def test_only_case_insensitive_strings_are_stored_lower_cased(
    attributes: AttributeMap, storage: Callable[[Models], dict[str, t.Any]]
) -> None:
    by_name = {a.name: a for a in attributes.values()}
    for name, stored in storage(okta.models).items():
        if isinstance(stored, Lowered) and name in by_name:
            assert by_name[name].type == "string" and not by_name[name].case_exact, name


def test_conditions_are_only_for_multi_valued_references() -> None:
    conditions = [n for n, s in group_storage(okta.models).items() if isinstance(s, Condition)]
    assert conditions == ["members.value"]
    assert not [s for s in user_storage(okta.models).values() if isinstance(s, Condition)]
