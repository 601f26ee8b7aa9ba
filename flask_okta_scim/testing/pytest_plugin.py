"""The pytest plugin of the testing kit: fixtures for a host application's own tests.

Registered by the package's ``pytest11`` entry point, so installing the package
is enough. Every fixture is named ``okta_*`` and needs one thing from the
host's suite: an ``app`` fixture (the application, with its database ready),
or an ``okta_app`` fixture overriding the default that reads ``app``.

- ``okta_idp`` — a :class:`SimulatedIdP` with its own key (one per test session);
- ``okta_organization`` — a :class:`ReadyOrganization` connected to it, provisioning
  on: name ``Acme``, domain ``acme.example`` verified and pre-approved for
  just-in-time sign-up into the team ``Everyone``; change them with
  ``@pytest.mark.okta_organization(name=..., domains=[...], jit_team=...)``;
- ``okta_organization_factory`` — makes more of them (another tenant, say);
- ``okta_scim`` — a :class:`SimulatedSCIMClient` holding its token (Okta's headers
  and request forms);
- ``okta_sign_in`` — ``okta_sign_in(email)`` signs a person in through the real ACS
  and returns a test client with their session.

The fixtures do not create tables or clean the database between tests: the
host's ``app`` fixture does what its suite already does.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import pytest

from .idp import SimulatedIdP
from .organizations import ReadyOrganization
from .organizations import ready_organization
from .scim_client import SimulatedSCIMClient

#: The defaults of ``okta_organization`` (each can be changed by its marker).
DEFAULTS: dict[str, t.Any] = {
    "name": "Acme",
    "domains": ["acme.example"],
    "jit_team": "Everyone",
    "provisioning": True,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "okta_organization(name=, domains=, jit_team=, provisioning=): "
        "how the okta_organization fixture sets up its organization",
    )


@pytest.fixture
def okta_app(request: pytest.FixtureRequest) -> t.Any:
    """The application under test: the host suite's ``app`` fixture (override to change).

    Without either, fails the test with a message saying what to define.
    """
    try:
        return request.getfixturevalue("app")
    except pytest.FixtureLookupError as e:
        if e.argname != "app":  # the host's app fixture itself needs something missing
            raise
    # Outside the except clause, so that pytest's lookup error is not shown as well.
    pytest.fail(
        "The okta_* fixtures need the application under test: define an 'app' fixture "
        "(the Flask app with its tables created), or override 'okta_app'.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def okta_idp() -> SimulatedIdP:
    """A simulated Okta with a key of its own, for the whole test session."""
    return SimulatedIdP.generate(
        entity_id="http://www.okta.com/exkPYTESTSIMULATED",
        sso_url="https://simulated-okta.example/app/pytest/exkPYTESTSIMULATED/sso/saml",
    )


@pytest.fixture
def okta_organization_factory(
    okta_app: t.Any, okta_idp: SimulatedIdP
) -> Callable[..., ReadyOrganization]:
    """``make(name, domains=[...], jit_team=None, provisioning=True)``: another organization
    connected to ``okta_idp``."""

    def make(name: str, **options: t.Any) -> ReadyOrganization:
        return ready_organization(okta_app, name, okta_idp, actor="pytest", **options)

    return make


@pytest.fixture
def okta_organization(
    request: pytest.FixtureRequest,
    okta_organization_factory: Callable[..., ReadyOrganization],
) -> ReadyOrganization:
    """An organization ready for SSO and SCIM (see the module's docstring for the defaults)."""
    options = dict(DEFAULTS)
    marker = request.node.get_closest_marker("okta_organization")
    if marker is not None:
        unknown = set(marker.kwargs) - set(DEFAULTS)
        if unknown or marker.args:
            raise pytest.UsageError(
                f"okta_organization takes {', '.join(DEFAULTS)} as keywords, "
                f"not {', '.join(sorted(unknown)) or marker.args}"
            )
        options.update(marker.kwargs)
    name = options.pop("name")
    return okta_organization_factory(name, **options)


@pytest.fixture
def okta_scim(okta_organization: ReadyOrganization) -> SimulatedSCIMClient:
    """Okta's provisioning client (an OIN app's PATCH forms) for ``okta_organization``."""
    return okta_organization.scim()


@pytest.fixture
def okta_sign_in(okta_organization: ReadyOrganization) -> Callable[..., t.Any]:
    """``okta_sign_in(email, client=None, next=None)``: sign in through ``okta_organization``'s
    Okta; returns the test client, signed in."""
    return okta_organization.sign_in
