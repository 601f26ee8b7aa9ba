"""The two tenants of the isolation tests: Alpha (A) and Beta (B)."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.scim_api.isolation.tenants import Tenant
from tests.scim_api.isolation.tenants import make_tenant


@pytest.fixture
def tenants(app: Flask) -> tuple[Tenant, Tenant]:
    """Alpha (ann, abe, inactive ava; two groups) and Beta (bea, bob; two groups)."""
    a = make_tenant(
        app,
        "Alpha",
        "alpha.example",
        ("ann", "abe"),
        {"Alpha Engineering": ("ann", "abe"), "Alpha Support": ("abe",)},
        inactive=("ava",),
    )
    b = make_tenant(
        app,
        "Beta",
        "beta.example",
        ("bea", "bob"),
        {"Beta Engineering": ("bea",), "Beta Empty": ()},
    )
    # The fixture itself must be what the tests think it is.
    assert [m["value"] for m in a.groups["Alpha Engineering"]["members"]] == [
        a.user_id("ann"),
        a.user_id("abe"),
    ]
    assert a.users["ava"]["active"] is False
    return a, b
