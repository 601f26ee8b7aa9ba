"""Testing kit for host applications: a simulated Okta that signs real SAML responses.

Import it in tests and demos only: :class:`SimulatedIdP` signs anybody in for an
organization configured with its certificate. The extension itself never imports
this package.
"""

from __future__ import annotations

from .idp import SimulatedIdP

__all__ = ["SimulatedIdP"]
