"""The core of ``POST .search``, without HTTP or a database: reading a SearchRequest body and
applying one filter to Users and Groups at once. Over HTTP: ``tests/scim_api/test_search.py``.
"""

from __future__ import annotations

import pytest

from flask_okta_scim.core.errors import InvalidValue
from flask_okta_scim.scim.attributes import GROUP_FILTERS
from flask_okta_scim.scim.attributes import USER_FILTERS
from flask_okta_scim.scim.errors import InvalidFilter
from flask_okta_scim.scim.errors import InvalidSyntax
from flask_okta_scim.scim.filters import And
from flask_okta_scim.scim.filters import Compare
from flask_okta_scim.scim.filters import Not
from flask_okta_scim.scim.search import ListQuery
from flask_okta_scim.scim.search import conditions_by_type
from flask_okta_scim.scim.search import parse_search_request

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
TYPES = {"User": USER_FILTERS, "Group": GROUP_FILTERS}


def test_a_search_request_is_a_list_query():
    body = {
        "schemas": [SEARCH],
        "filter": 'userName eq "a"',
        "startIndex": 3,
        "COUNT": 7,
        "attributes": [" userName ", ""],
        "excludedAttributes": None,
        "sortBy": "userName",
        "sortOrder": "ascending",
        "somethingElse": {"ignored": True},
    }
    assert parse_search_request(body) == ListQuery('userName eq "a"', 3, 7, ["userName"], None)
    assert parse_search_request({"schemas": [SEARCH]}) == ListQuery()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], InvalidSyntax),
        ({"filter": "x"}, InvalidSyntax),
        ({"schemas": [SEARCH], "count": 1.0}, InvalidValue),
        ({"schemas": [SEARCH], "startIndex": False}, InvalidValue),
        ({"schemas": [SEARCH], "attributes": ["a", None]}, InvalidValue),
        ({"schemas": [SEARCH], "sortOrder": 1}, InvalidValue),
    ],
)
def test_bad_search_requests(body, error):
    with pytest.raises(error):
        parse_search_request(body)


def test_a_comparison_a_type_lacks_is_false_for_it():
    assert conditions_by_type('userName eq "a"', TYPES) == {
        "User": Compare("userName", "eq", "a"),
        "Group": False,
    }
    assert conditions_by_type('not (members eq "u")', TYPES) == {
        "User": True,
        "Group": Not(Compare("members.value", "eq", "u")),
    }
    both = conditions_by_type('userName sw "a" and displayName pr or members pr', TYPES)
    assert both == {
        "User": And(Compare("userName", "sw", "a"), Compare("displayName", "pr")),
        "Group": Compare("members.value", "pr"),
    }


@pytest.mark.parametrize(
    "text", ['nope eq "x"', 'userName eq "x" or nope pr', "active eq 3", 'userName eq "x']
)
def test_what_no_type_can_apply_is_invalid(text):
    with pytest.raises(InvalidFilter):
        conditions_by_type(text, TYPES)
