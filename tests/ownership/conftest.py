"""Fixtures of the account ownership suite: the sample app with its domain checks pointed at
a loopback DNS server (``OKTA_SCIM_DNS_*``). Every test that uses ``app`` runs on SQLite and
on PostgreSQL, as in ``tests/conftest.py``. Helpers are in :mod:`tests.ownership.support`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.security import generate_password_hash

import flask_okta_scim.sqla.mixins
from sample_app.models import okta
from tests.conftest import sample_app_on
from tests.dns_server import LoopbackDNS
from tests.dns_server import dns_server  # noqa: F401  (registers the fixture)
from tests.ownership.support import DNS_TIMEOUT


@pytest.fixture
def app(
    database_url: str,
    backend: str,
    dns_server: LoopbackDNS,  # noqa: F811
    request: pytest.FixtureRequest,
) -> Iterator[Flask]:
    """The sample app on an empty database, its domain checks asking ``dns_server``.

    ``@pytest.mark.account_removal("delete")`` sets ``OKTA_SCIM_ACCOUNT_REMOVAL``.
    """
    marker = request.node.get_closest_marker("account_removal")
    removal = {"OKTA_SCIM_ACCOUNT_REMOVAL": marker.args[0]} if marker else {}
    with sample_app_on(
        database_url,
        backend,
        OKTA_SCIM_DNS_NAMESERVERS="127.0.0.1",
        OKTA_SCIM_DNS_PORT=dns_server.port,
        OKTA_SCIM_DNS_TIMEOUT=DNS_TIMEOUT,
        **removal,
    ) as app:
        yield app


def quick_hash(password: str) -> str:
    """scrypt with a small work factor: the same scheme, a thousandth of the cost."""
    return generate_password_hash(password, method="scrypt:1024:8:1")


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords cheaply in this suite (it signs in by password a few hundred times).

    Both ways passwords get hashed: the extension's ``hash_password`` (passwords synced by
    SCIM) and ``AccountMixin.set_password`` (the host's own). Verification reads the work
    factor from the stored hash, so it is cheap too. What is decided is unchanged.
    """
    monkeypatch.setattr(okta, "hash_password", quick_hash)
    monkeypatch.setattr(flask_okta_scim.sqla.mixins, "hash_password", quick_hash)
