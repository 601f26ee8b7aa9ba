"""An organization connected to a :class:`SimulatedIdP`: ready for sign-ins and SCIM in a test.

:func:`connect_simulator` does for an existing organization what its admin does
with a real Okta (configure the connection from the IdP's metadata, sign in once,
turn provisioning on); :func:`ready_organization` creates the organization first.
:class:`ReadyOrganization` then signs people in through the application's real
ACS (SP-initiated, as a browser would) and gives a :class:`SimulatedSCIMClient`
holding the organization's token.

Nothing here bypasses a check: the connection trusts the simulator's
certificate because it was configured with it, exactly as with Okta's.
"""

from __future__ import annotations

import typing as t
from base64 import b64encode
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Flask
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from ..saml.metadata import parse_metadata
from .idp import NS_SAMLP
from .idp import SimulatedIdP
from .idp import qname
from .scim_client import SimulatedSCIMClient


class SimulatedSignInFailed(Exception):
    """A sign-in through the simulated Okta did not end signed in (the answer is attached)."""

    def __init__(self, message: str, response: t.Any) -> None:
        super().__init__(message)
        self.response = response


@dataclass
class ReadyOrganization:
    """An organization connected to ``idp``, with provisioning on.

    ``token`` is its SCIM bearer token (the only copy: the application keeps a
    hash). The methods need no application context.
    """

    app: Flask
    id: t.Any
    name: str
    integration_id: str
    idp: SimulatedIdP
    token: str | None

    def scim(self, mode: str = "okta") -> SimulatedSCIMClient:
        """A simulated Okta provisioning client holding this organization's token."""
        if self.token is None:
            raise RuntimeError(f"Provisioning is off for {self.name!r}: there is no token.")
        return SimulatedSCIMClient.for_app(self.app, self.token, mode=mode)

    def sign_in(self, email: str, client: t.Any = None, *, next: str | None = None) -> t.Any:
        """Sign ``email`` in through Okta, SP-initiated, in ``client`` (a new test client by
        default); return the client, signed in.

        The client opens the connection's sign-in URL, the simulator answers the
        AuthnRequest it was redirected with, and the signed response is posted
        to the ACS with the RelayState. Raises :class:`SimulatedSignInFailed`
        when the application refuses (its answer says why), so that a test of
        a refusal can inspect it.
        """
        client = client if client is not None else self.app.test_client()
        with self.app.app_context():
            settings = self.app.extensions["okta_scim"].settings
        base = settings.base_url or "http://localhost"
        start = f"{settings.sso_url_prefix}/{self.integration_id}"
        if next is not None:
            start += "?" + urlencode({"next": next})
        answer = client.get(start, base_url=base)
        if answer.status_code != 302 or "SAMLRequest=" not in answer.headers.get("Location", ""):
            raise SimulatedSignInFailed(
                f"The sign-in URL did not redirect to the IdP: {answer.status}", answer
            )
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0])
        authn = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False))
        if authn.tag != qname(NS_SAMLP, "AuthnRequest"):
            raise SimulatedSignInFailed("The redirect carried no AuthnRequest.", answer)
        response = self.idp.for_connection(
            self.integration_id,
            email,
            base_url=base,
            sso_prefix=settings.sso_url_prefix,
            in_response_to=authn.get("ID"),
        )
        form = {"SAMLResponse": b64encode(response.encode()).decode()}
        if "RelayState" in query:
            form["RelayState"] = query["RelayState"][0]
        answer = client.post(f"{start.split('?')[0]}/acs", data=form, base_url=base)
        if answer.status_code != 302:
            raise SimulatedSignInFailed(
                f"The application refused the sign-in of {email}: {answer.status}", answer
            )
        return client


def trust(directory: t.Any, organization: t.Any, idp: SimulatedIdP) -> t.Any:
    """Configure ``organization``'s connection from ``idp``'s metadata, as its admin pastes
    Okta's metadata link; return the connection. Does not connect it; does not commit."""
    found = parse_metadata(idp.metadata())
    connection = directory.connect(organization)
    directory.configure_connection(
        connection,
        idp_entity_id=found.entity_id,
        idp_sso_url=found.sso_url,
        certificates=found.certificates,
    )
    return connection


def connect_simulator(
    app: Flask,
    organization: t.Any,
    idp: SimulatedIdP,
    *,
    provisioning: bool = True,
    actor: str = "testing",
) -> ReadyOrganization:
    """Connect ``organization`` (the row, or its id) to ``idp`` as its admin would connect Okta.

    Configures its connection from ``idp``'s metadata, marks it connected (what
    the first successful sign-in does; no account is created), and turns
    provisioning on unless ``provisioning=False``. Call it in ``app``'s context
    or outside any; commits.
    """
    okta = app.extensions["okta_scim"]
    with app.app_context(), okta.directory(actor=actor).atomic() as directory:
        organization = directory.get_organization(getattr(organization, "id", organization))
        connection = trust(directory, organization, idp)
        directory.mark_connected(connection)
        token = directory.enable_provisioning(organization) if provisioning else None
        return ReadyOrganization(
            app, organization.id, organization.name, connection.integration_id, idp, token
        )


def ready_organization(
    app: Flask,
    name: str,
    idp: SimulatedIdP,
    *,
    domains: Iterable[str] = (),
    jit_team: str | None = None,
    provisioning: bool = True,
    actor: str = "testing",
) -> ReadyOrganization:
    """Create the organization ``name`` and connect it to ``idp`` (:func:`connect_simulator`).

    ``domains`` are verified for it by the operator's word (it then manages
    their accounts); with ``jit_team``, a team of that name pre-approves them
    for just-in-time sign-up. Commits.
    """
    okta = app.extensions["okta_scim"]
    with app.app_context(), okta.directory(actor=actor).atomic() as directory:
        organization = directory.create_organization(name)
        domains = list(domains)
        for domain in domains:
            directory.verify_domain(organization, domain, None, by_operator=True)
        if jit_team is not None:
            team = directory.create_team(organization, jit_team)
            for domain in domains:
                directory.add_team_domain(team, domain)
        organization_id = organization.id
    return connect_simulator(app, organization_id, idp, provisioning=provisioning, actor=actor)
