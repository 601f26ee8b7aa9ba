"""scim2-tester, run against the app in-process: every check must run, and pass.

scim2-tester reads our discovery documents, then creates, reads, replaces,
patches and deletes Users and Groups with random values for every attribute
our schemas declare.
"""

from __future__ import annotations

import typing as t
from collections import Counter

import pytest
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import ScimProvider
from scim2_tester import Status
from scim2_tester import check_server

from tests.conftest import BASE_URL


@pytest.fixture
def tester_client(app: t.Any, scim_org: tuple[t.Any, str]) -> WSGISCIMClient:
    client = WSGISCIMClient(
        app,
        base_url=f"{BASE_URL}/scim/v2",
        headers={"Authorization": f"Bearer {scim_org[1]}"},
        provider=ScimProvider(),
    )
    return client


def test_scim2_tester_passes(tester_client):
    results = check_server(tester_client, raise_exceptions=False)
    counts = Counter(r.status for r in results)
    failures = [
        f"{r.title}: {r.reason}" for r in results if r.status in (Status.ERROR, Status.CRITICAL)
    ]
    skipped = [f"{r.title}: {r.reason}" for r in results if r.status == Status.SKIPPED]
    print(f"scim2-tester: {dict(counts)}")
    assert failures == []
    assert skipped == []
    assert counts[Status.SUCCESS] == len(results) >= 50
