"""The browser of the end-to-end tests under tests/e2e/: one Chromium per module, and a
fresh profile (no cookies) per test (tests.e2e.browser)."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest

from tests.e2e.browser import DESKTOP
from tests.e2e.browser import chromium
from tests.e2e.browser import fresh_context

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies), its pages the size of a laptop's (DESKTOP)."""
    with fresh_context(browser, viewport=DESKTOP) as ctx:
        yield ctx
