"""The framework-agnostic helpers: email and domain shapes, safe redirects, random ids."""

from __future__ import annotations

import pytest

from flask_okta_scim import InvalidValue
from flask_okta_scim.core.emails import email_domain
from flask_okta_scim.core.emails import normalize_domain
from flask_okta_scim.core.emails import normalize_email
from flask_okta_scim.core.ids import new_integration_id
from flask_okta_scim.core.ids import new_scim_id
from flask_okta_scim.core.redirects import safe_next_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Ann.Lee@ACME.Example ", "Ann.Lee@acme.example"),
        ("a+tag@sub.acme.example", "a+tag@sub.acme.example"),
        ("zoë@bücher.example", "zoë@xn--bcher-kva.example"),
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "ann",
        "@acme.example",
        "ann@",
        "ann@localhost",
        "Ann <ann@acme.example>",
        "a b@acme.example",
        "ann@acme..example",
        "ann@10.0.0.1",
        42,
    ],
)
def test_not_an_email(raw):
    with pytest.raises(InvalidValue):
        normalize_email(raw)


def test_email_domain_is_lower_case():
    assert email_domain(normalize_email("x@ACME.example")) == "acme.example"


def test_normalize_domain_refuses_wildcards_and_addresses():
    assert normalize_domain("ACME.example.") == "acme.example"
    for raw in ("*.acme.example", "127.0.0.1", "example", "a_b.example", "x" * 64 + ".example"):
        with pytest.raises(InvalidValue):
            normalize_domain(raw)


@pytest.mark.parametrize("good", ["/", "/reports?x=1", "/a/b#frag"])
def test_safe_next_path_accepts_local_paths(good):
    assert safe_next_path(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/x\r\nSet-Cookie: a=b",
        "\\\\evil",
        "/" + "a" * 3000,
    ],
)
def test_safe_next_path_refuses_other_sites(bad):
    assert safe_next_path(bad) is None


def test_ids_are_random_and_url_safe():
    ids = {new_integration_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) >= 22 and i.replace("-", "").replace("_", "").isalnum() for i in ids)
    assert new_scim_id() != new_scim_id()
