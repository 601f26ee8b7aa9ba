"""SCIM filters in PATCH value paths (pure, no app): :class:`AnyAttribute` takes any
attribute name, and :func:`matches` tests one element of a multi-valued attribute.
"""

from __future__ import annotations

import typing as t

import pytest

from flask_okta_scim.scim.filters import And
from flask_okta_scim.scim.filters import AnyAttribute
from flask_okta_scim.scim.filters import Attribute
from flask_okta_scim.scim.filters import Compare
from flask_okta_scim.scim.filters import matches
from flask_okta_scim.scim.filters import parse_filter

# -- AnyAttribute and matches() (PATCH value paths) ------------------------------------------------


def test_any_attribute_accepts_every_name_with_any_type():
    attributes = AnyAttribute()
    assert attributes["Whatever"] == Attribute("Whatever", type="any")
    assert "anything" in attributes
    assert len(attributes) == 0
    assert list(attributes) == []
    assert parse_filter("foo co 1 and bar gt null", attributes) == And(
        Compare("foo", "co", 1), Compare("bar", "gt", None)
    )
    assert parse_filter('type eq "work" and primary eq true', attributes) == And(
        Compare("type", "eq", "work"), Compare("primary", "eq", True)
    )


WORK = {"value": "Bjensen@Example.com", "type": "work", "primary": True, "display": ""}
HOME = {"value": "babs@jensen.org", "type": "home"}


def any_filter(text: str) -> t.Any:
    return parse_filter(text, AnyAttribute())


@pytest.mark.parametrize(
    ("text", "work", "home"),
    [
        ('type eq "work"', True, False),
        ('type eq "WORK"', True, False),
        ('TYPE eq "work"', True, False),
        ('type ne "work"', False, True),
        ('value co "JENSEN"', True, True),
        ('value sw "bjensen@"', True, False),
        ('value ew ".org"', False, True),
        ('value gt "bj"', True, False),
        ('value ge "bjensen@example.com"', True, False),
        ('value lt "bjensen"', False, True),
        ('value le "babs@jensen.org"', False, True),
        ("primary eq true", True, False),
        ("primary ne true", False, True),
        ("primary eq false", False, False),
        ("primary pr", True, False),
        ("display pr", False, False),
        ("type pr", True, True),
        ("primary eq null", False, True),
        ('type eq "work" and primary eq true', True, False),
        ('type eq "home" or primary eq true', True, True),
        ('not (type eq "work")', False, True),
        ('type eq "home" and not (value co "example")', False, True),
        ('nosuch eq "x"', False, False),
        ("value eq 1", False, False),
    ],
)
def test_matches_one_element_of_a_multi_valued_attribute(text, work, home):
    node = any_filter(text)
    assert matches(node, WORK) is work
    assert matches(node, HOME) is home


def test_matches_reads_keys_case_insensitively_and_uses_the_last_name_part():
    item = {"Type": "Work", "Value": "x"}
    assert matches(any_filter('type eq "work"'), item)
    assert matches(Compare("emails.type", "eq", "work"), item)
    assert matches(Compare("members.value", "eq", "X"), item)
    assert not matches(Compare("emails.type", "eq", "home"), item)


def test_matches_member_value_paths_okta_sends():
    node = any_filter('value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"')
    assert matches(node, {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "x"})
    assert not matches(node, {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173"})
    assert not matches(node, {"display": "89bb1940-b905-4575-9e7f-6f887cfb368e"})


def test_matches_does_not_confuse_booleans_and_strings():
    assert not matches(Compare("primary", "eq", True), {"primary": "yes"})
    assert not matches(Compare("primary", "co", True), {"primary": True})
    assert not matches(Compare("type", "eq", "true"), {"type": True})
