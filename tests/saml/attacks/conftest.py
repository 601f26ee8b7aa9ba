"""The ``acme`` fixture of the attack tests: Acme, its Okta connection, the victim a member."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.saml.attacks.support import IDP
from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import make_tenant


@pytest.fixture
def acme(app: Flask) -> Tenant:
    return make_tenant(app, "Acme", IDP)
