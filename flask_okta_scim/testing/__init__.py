"""Testing kit for host applications: a simulated Okta that signs real SAML responses and
sends Okta's SCIM requests.

Import it in tests and demos only: :class:`SimulatedIdP` signs anybody in for an
organization configured with its certificate. The extension itself never imports
this package.
"""

from __future__ import annotations

from .idp import SimulatedIdP
from .organizations import ReadyOrganization
from .organizations import SimulatedSignInFailed
from .organizations import connect_simulator
from .organizations import ready_organization
from .scim_client import SCIMRequestFailed
from .scim_client import SimulatedSCIMClient

__all__ = [
    "ReadyOrganization",
    "SCIMRequestFailed",
    "SimulatedIdP",
    "SimulatedSCIMClient",
    "SimulatedSignInFailed",
    "connect_simulator",
    "ready_organization",
]
