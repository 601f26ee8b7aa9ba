"""Fixtures of the browser sign-in suites (``test_e2e*.py``): one SimpleSAMLphp and one Chromium
per module, and a fresh browser profile per test.

A module using :func:`idp` names the people its IdP knows with a module-scoped
``idp_users`` fixture. The IdP and the browser skip the test, saying what is missing, when
their programs are absent, or fail it under ``OKTA_SCIM_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest

from tests.e2e import simplesamlphp
from tests.e2e.browser import chromium
from tests.e2e.browser import fresh_context
from tests.e2e.simplesamlphp import IdpUser
from tests.e2e.simplesamlphp import SimpleSAMLphp

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext


@pytest.fixture(scope="module")
def idp(
    idp_users: list[IdpUser], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleSAMLphp]:
    with simplesamlphp.serving(tmp_path_factory.mktemp("simplesamlphp"), idp_users) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile: no cookies."""
    with fresh_context(browser) as ctx:
        yield ctx
