"""The directory service: the directory rules (docs/directory.rst) in one place.

SCIM views, SAML sign-in and the CLI all change accounts, organizations and
teams through :class:`Directory`; none of them writes those tables directly.

One module per concern, each building on the ones it imports:
:mod:`.base` (unit of work, signals, audit) ← :mod:`.accounts` (organizations,
accounts, memberships) ← :mod:`.teams` (teams, their members and pre-approved
domains) ← :mod:`.groups` (the IdP's member lists behind Okta-managed teams) ←
:mod:`.search_keys` (what filters compare: folded keys, email rows) ←
:mod:`.identities` (SCIM-provisioned people, rules 4-9); :mod:`.jit` (rule 3)
builds on teams; :mod:`.connections` (Okta connections, SCIM tokens, sign-ins in
progress, the replay cache) on :mod:`.certificates` (the IdP certificates'
checks), on the base; :mod:`.sign_in` (the ACS's decisions)
on JIT and connections; :mod:`.sp_keys` (the SP's key pairs and the options
that use them: signed requests, encrypted assertions) on the base;
:mod:`.metadata_refresh` (refreshing connections from their IdP metadata URL,
certificates kept for an overlap) on connections.
:class:`Directory` is all of them.
"""

from __future__ import annotations

from .guard import ProvisioningGuard
from .identities import UNSET
from .identities import Identities
from .metadata_refresh import MetadataRefresh
from .sign_in import SignIn
from .sign_in import SignIns
from .sp_keys import SamlOptions

__all__ = ["UNSET", "Directory", "SignIn"]


class Directory(SignIns, Identities, ProvisioningGuard, SamlOptions, MetadataRefresh):
    """Accounts, organizations, teams and provisioned identities of one database session.

    Get one from :meth:`flask_okta_scim.OktaSCIM.directory` inside an
    application context, and wrap each unit of work in :meth:`atomic`::

        with okta.directory(actor="cli").atomic() as directory:
            org = directory.create_organization("Acme")
            team = directory.create_team(org, "Operations")
            directory.add_team_domain(team, "acme.example")

    No method commits: :meth:`atomic` does, once, at the end. Signals are sent
    inside the open transaction (see :mod:`flask_okta_scim.signals`), so a
    receiver that raises undoes the whole unit of work.

    :param session: the SQLAlchemy session to work in (the host's ``db.session``).
    :param models: the :class:`~flask_okta_scim.sqla.Models` bundle.
    :param sender: the signal sender: the Flask application.
    :param actor: who acts, as recorded in the audit log (``"cli"``,
        ``"scim:token:12"``, ``"sso"``...).
    :param hash_password: turns a synced password into the stored hash.
    :param default_role: the role given to people who join by SCIM or JIT.
    :param account_removal: what SCIM deactivation does to an account left in no
        organization: ``"disable"`` or ``"delete"`` (:mod:`.removal`).
    :param team_deletion: what Okta deleting a pushed group does to its team, for
        organizations that did not choose: ``"quarantine"``, ``"delete"`` or
        ``"detach"`` (:mod:`.team_removal`).
    :param team_quarantine: how long a quarantined team waits for the purge.
    :param guard: the mass-deprovisioning guard's thresholds (:mod:`.guard`).
    """
