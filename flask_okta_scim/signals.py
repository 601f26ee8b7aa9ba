"""Blinker signals sent by the directory service and the sign-in flow.

**Receiver contract** (directory rule 11, docs/directory.rst). Every signal below is sent *inside*
the database transaction of the change it announces, after the change has been
flushed and before it is committed:

- a receiver sees the change through the same SQLAlchemy session
  (``db.session``) and may write through that session: its writes commit or
  roll back together with the change;
- a receiver that raises aborts the whole operation: nothing of the change is
  kept, the exception reaches the caller (Okta gets a SCIM 500 and retries);
- ``*_deleted`` and ``user_detached`` are sent *before* the rows go, so the
  receiver can still read them and delete what references them;
- receivers must not commit or roll back the session themselves.

The sender is always the Flask application (``current_app._get_current_object()``);
every other argument is a keyword. ``organization``, ``account`` and ``team`` are
instances of the host's models; ``identity`` is the extension's provisioned
identity row (``okta.models.identity``).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

user_provisioned = _signals.signal("user-provisioned")
"""A SCIM create attached a person to an organization (rule 4).

Keywords: ``organization``, ``account``, ``identity``, ``created_account``
(``True`` when a new account was created, ``False`` when an existing one was
attached).
"""

user_updated = _signals.signal("user-updated")
"""A provisioned identity changed (rule 5).

Keywords: ``organization``, ``account`` (``None`` while the person is
detached), ``identity``, ``changes`` (a ``frozenset`` of the names of the
changed fields, e.g. ``{"display_name", "password"}``; never the values), and
``account_changes`` (the subset that was applied to the shared account; empty
when the account belongs to another organization too, rule 9).
"""

user_detached = _signals.signal("user-detached")
"""A person was removed from an organization and all its teams (rule 6).

Keywords: ``organization``, ``account``, ``identity`` (``None`` when the
detachment did not come from SCIM), ``teams`` (the teams they were removed
from). Sent before the membership rows are deleted.
"""

user_deleted = _signals.signal("user-deleted")
"""An account is about to be deleted because it belongs to no organization any more.

Keywords: ``account``, ``organization`` (the organization whose
deprovisioning caused it). Only with ``OKTA_SCIM_ACCOUNT_REMOVAL = "delete"``.
Sent before the account row is deleted, inside a savepoint: delete or reassign
what the host keeps for this account here. If the database still refuses the
deletion (a foreign key of the host's), what the receivers did is undone with
it and the account is disabled instead (``user_disabled`` follows).
"""

user_disabled = _signals.signal("user-disabled")
"""An account was disabled: it belongs to no organization any more (rule 6).

Keywords: ``account``, ``organization`` (the organization whose
deprovisioning caused it, or ``None``). The account's sessions end at their
next request; a host that keeps its own "active" flag sets it here.
"""

user_enabled = _signals.signal("user-enabled")
"""A disabled account was enabled again: an organization added it (rule 7).

Keywords: ``account``, ``organization`` (the organization that added it, or ``None``).
"""

user_reactivated = _signals.signal("user-reactivated")
"""A deactivated identity was reactivated on the same SCIM id (rule 7).

Keywords: ``organization``, ``account``, ``identity``, ``created_account``
(``True`` when the account had been deleted and was created anew).
"""

user_jit_provisioned = _signals.signal("user-jit-provisioned")
"""A person joined an organization by just-in-time provisioning at sign-in (rule 3).

Keywords: ``organization``, ``account``, ``teams`` (the teams whose
pre-approved domains admitted them), ``created_account``.
"""

team_created = _signals.signal("team-created")
"""A team was created. Keywords: ``organization``, ``team``, ``managed_by_okta``."""

team_updated = _signals.signal("team-updated")
"""A team was renamed. Keywords: ``organization``, ``team``, ``previous_name``."""

team_linked = _signals.signal("team-linked")
"""Okta linked a pushed group to an existing team (*Link Group*): Okta manages it from now on.

Keywords: ``organization``, ``team``, ``group_id`` (the SCIM id Okta knows it by).
"""

team_members_changed = _signals.signal("team-members-changed")
"""A team's membership changed (rule 10).

Keywords: ``organization``, ``team``, ``added`` and ``removed`` (lists of
accounts; one of them may be empty, never both).
"""

team_deleted = _signals.signal("team-deleted")
"""A team is about to be deleted (rule 10).

Keywords: ``organization``, ``team``. Sent before the team row is deleted:
delete the team's resources here, through the same session.
"""

team_quarantined = _signals.signal("team-quarantined")
"""Okta deleted a team's group and the organization's policy is ``quarantine``: the team
is set aside, its members removed (``team_members_changed`` was sent), its resources kept.

Keywords: ``organization``, ``team``, ``purge_after`` (when ``flask okta-scim purge``
may delete it; ``team_deleted`` is sent then). Hide or pause the team's resources here
if they should not keep running; do not delete them: the team may be restored.
"""

team_restored = _signals.signal("team-restored")
"""An operator restored a quarantined team: its SCIM group and members are back
(``team_members_changed`` is sent for the members). Keywords: ``organization``, ``team``.
"""

team_detached = _signals.signal("team-detached")
"""Okta deleted a team's group and the organization's policy is ``detach``: the team
stays, with its resources, as an ordinary team no longer managed by Okta; its members
were removed (``team_members_changed``). Keywords: ``organization``, ``team``.
"""

provisioning_held = _signals.signal("provisioning-held")
"""The mass-deprovisioning guard tripped: the organization's destructive SCIM changes are
held for an admin from now on (answered to Okta as if applied, not applied).

Keywords: ``organization``, ``reason`` (which threshold, with the count), ``change`` (the
first held change: ``id``, ``method``, ``resource``, ``resource_id``). Alert the
organization's admins here; ``flask okta-scim held`` lists, releases and discards.
"""

sso_login = _signals.signal("sso-login")
"""A person signed in through an organization's Okta connection.

Keywords: ``organization``, ``account``, ``jit`` (``True`` when the sign-in
made them a member by just-in-time provisioning).
"""

idp_certificate_expiring = _signals.signal("idp-certificate-expiring")
"""An organization's Okta connection is about to lose (or lost) its last trusted certificate.

Sent by :meth:`~flask_okta_scim.sqla.Directory.certificate_check`, which
``flask okta-scim sso check-certificates`` runs (from cron), once per
connection whose last strong IdP signing certificate expires within the
window (``--days``, default ``OKTA_SCIM_CERTIFICATE_WARNING_DAYS``) or has
expired; not for a connection with the ``allow_expired_certificate``
override. Sent inside the check's unit of work, which changes nothing else: a
receiver may write through the session (a reminder row), and one that raises
stops the check. Keywords: ``organization``, ``connection``, ``certificate``
(a :class:`~flask_okta_scim.saml.certificates.CertificateInfo`: ``subject``,
``fingerprint``, ``not_after``...), ``not_after`` (an aware UTC
``datetime``), ``days_left`` (calendar days, UTC, until ``not_after``: 0 on
its last day, negative once expired).
"""

idp_metadata_refreshed = _signals.signal("idp-metadata-refreshed")
"""A metadata refresh changed an Okta connection: new certificates, or new sign-on URLs.

Sent by :meth:`~flask_okta_scim.sqla.Directory.refresh_metadata` (``flask
okta-scim sso refresh-metadata``, the admin console's **Refresh metadata**)
inside its unit of work, only when something changed; a refresh that found
nothing new sends nothing. Keywords: ``organization``, ``connection``,
``added`` (SHA-256 fingerprints of the certificates trusted from now on),
``retiring`` (fingerprints of the certificates the metadata no longer lists,
still trusted until the end of the overlap, ``OKTA_SCIM_CERTIFICATE_OVERLAP_DAYS``),
``dropped`` (fingerprints of retiring certificates whose overlap ended: no
longer trusted). Lists of strings, possibly empty.
"""

idp_metadata_refresh_failed = _signals.signal("idp-metadata-refresh-failed")
"""A metadata refresh of an Okta connection failed, or was refused: nothing was applied.

The metadata could not be fetched or read, one of its new certificates was
refused (weak, unreadable, not valid now), or it names another identity
provider (another entity ID, a sign-on or logout URL on another host). Only
``metadata_checked_at`` and ``metadata_error`` of the connection changed. Sent
inside the refresh's unit of work, like the audit entry ``sso.metadata_refresh``
(outcome ``failure``) and the log event ``metadata.refresh_failed``. Alert the
operator or the organization's admins here. Keywords: ``organization``,
``connection``, ``reason`` (one line, for an operator).
"""

account_management_changed = _signals.signal("account-management-changed")
"""An organization stopped managing an account (directory rule 9).

Sent when the creating organization detaches the account, or another
organization verifies the domain of its email, or the verifying organization
loses or gives up the domain. By then the password that organization set is
cleared and every session of the account is over. Keywords: ``account``,
``previous_organization_id`` (the organization that stopped managing it),
``organization_id`` (the one that manages it now, or ``None``), ``reason``
(``"detached"``, ``"domain_verified"``, ``"domain_lost"``, ``"domain_removed"``).
"""

domain_verified = _signals.signal("domain-verified")
"""An organization verified an email domain (by DNS or by an operator).

Keywords: ``organization``, ``domain`` (the normalised domain), ``method``
(``"dns"`` or ``"operator"``).
"""

sso_logout = _signals.signal("sso-logout")
"""An IdP asked, by a valid LogoutRequest, to end a person's sessions vouched for by a connection.

Keywords: ``organization``, ``connection``, ``name_id`` (as the IdP named the
person), ``initiated_by`` (``"idp"``). Sent inside the unit of work that
records the logout, before the sessions end (each at its next request).
"""

__all__ = [
    "account_management_changed",
    "domain_verified",
    "idp_certificate_expiring",
    "idp_metadata_refresh_failed",
    "idp_metadata_refreshed",
    "provisioning_held",
    "sso_login",
    "sso_logout",
    "team_created",
    "team_deleted",
    "team_detached",
    "team_linked",
    "team_members_changed",
    "team_quarantined",
    "team_restored",
    "team_updated",
    "user_deleted",
    "user_detached",
    "user_disabled",
    "user_enabled",
    "user_jit_provisioned",
    "user_provisioned",
    "user_reactivated",
    "user_updated",
]
