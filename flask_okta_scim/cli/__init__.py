"""The ``flask okta-scim`` command line: one module per command group."""

from __future__ import annotations

from flask.cli import AppGroup

from . import sso_metadata  # noqa: F401  (adds ``refresh-metadata`` to the ``sso`` group)
from .audit import audit
from .domain import domain
from .held import held
from .org import org
from .purge import purge
from .scim import scim
from .simulate import simulate
from .sso import sso
from .sso_keys import sp_key as _sp_key  # noqa: F401  (registers 'sso sp-key')
from .team import team
from .user import user

okta_scim_cli = AppGroup(
    "okta-scim",
    help="Manage organizations, teams, Okta single sign-on and SCIM provisioning.",
)
okta_scim_cli.add_command(audit)
okta_scim_cli.add_command(domain)
okta_scim_cli.add_command(held)
okta_scim_cli.add_command(org)
okta_scim_cli.add_command(purge)
okta_scim_cli.add_command(scim)
okta_scim_cli.add_command(simulate)
okta_scim_cli.add_command(sso)
okta_scim_cli.add_command(team)
okta_scim_cli.add_command(user)

__all__ = ["okta_scim_cli"]
