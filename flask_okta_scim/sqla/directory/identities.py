"""SCIM-provisioned people (directory rules 4-9): create, update, passwords, (re)activation."""

from __future__ import annotations

import typing as t

from sqlalchemy import delete
from sqlalchemy import select

from ... import signals
from ...core.emails import email_domain
from ...core.emails import normalize_email
from ...core.errors import Conflict
from ...core.errors import InvalidValue
from ...core.ids import new_scim_id
from ...core.ids import take_forced_scim_id
from ...core.text import fold
from ..mixins import utcnow
from .base import _short
from .base import bump_version
from .base import changed_values
from .ownership import EMAIL_DOMAIN_NOT_VERIFIED
from .ownership import NOT_MANAGED
from .search_keys import SearchKeys
from .search_keys import folded


def _audited_fields(identity: t.Any) -> dict[str, t.Any]:
    """What an identity's audit entry compares: its columns and top-level SCIM attributes.

    Never the password: it is not among them (attributes never hold it).
    """
    fields = {
        "userName": identity.user_name,
        "externalId": identity.external_id,
        "displayName": identity.display_name,
    }
    for key, value in (identity.attributes or {}).items():
        fields.setdefault(key, value)
    return fields


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: Marks an argument of :meth:`Identities.update_identity` as "leave unchanged".
UNSET: t.Any = _Unset()


class Identities(SearchKeys):
    """What SCIM provisioning changes, free of any wire format."""

    def get_identity(self, organization: t.Any, scim_id: str, *, for_update: bool = False) -> t.Any:
        """Return ``organization``'s identity with SCIM id ``scim_id``, or ``None``.

        Never returns another organization's identity. With ``for_update`` the
        row is locked until the unit of work ends and read afresh once the lock
        is held, so that a change decided on it (and its version check) cannot
        be overtaken by a concurrent one. The groups the identity is listed in
        are locked before it (:meth:`lock_groups_of`: one lock order for
        every writer).
        """
        ident = self.models.identity
        stmt = select(ident).where(ident.id == scim_id, ident.organization_id == organization.id)
        if for_update:
            self.lock_groups_of(organization, scim_id)
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(stmt).first()

    def find_identity(self, organization: t.Any, user_name: str) -> t.Any:
        """Return ``organization``'s identity whose userName is ``user_name`` (case-insensitive)."""
        ident = self.models.identity
        return self.session.scalars(
            select(ident).where(
                ident.organization_id == organization.id,
                ident.user_name_key == fold(user_name),
            )
        ).first()

    def account_of(self, identity: t.Any) -> t.Any:
        """Return the account ``identity`` is attached to, or ``None`` while detached."""
        if identity.account_id is None:
            return None
        return self.session.get(self.models.account, identity.account_id)

    def provision(
        self,
        organization: t.Any,
        *,
        user_name: str,
        email: str | None = None,
        external_id: str | None = None,
        display_name: str | None = None,
        attributes: dict[str, t.Any] | None = None,
        primary_email: str | None = None,
        password: str | None = None,
        active: bool = True,
    ) -> tuple[t.Any, bool]:
        """Provision a person in ``organization``; return ``(identity, created)``.

        The account is found by ``email`` (``user_name`` when ``email`` is not
        given), case-insensitively, and attached; or created. A ``user_name``
        already used by an *active* identity of the organization raises
        :class:`Conflict`; one used by a *deactivated* (or deleted) identity
        reactivates it on the same SCIM id (rule 7) and ``created`` is
        ``False``. ``primary_email`` is the address SCIM ``emails`` filters
        compare (the primary one the client sent).

        ``password`` is stored (hashed) only on an account created here, and
        only if the organization manages it (the domain may be verified by
        another one): Okta sends a (random, unless password sync is on)
        password with every create, which must not replace an existing
        account's password; later password changes go through
        :meth:`update_identity`. Neither the answer nor the audit entry tells
        whether the account existed. ``attributes`` are kept as sent and must
        not contain the password. Does not commit.
        """
        user_name = _clean_user_name(user_name)
        email = normalize_email(email if email is not None else user_name)
        # Before the first write: on SQLite, whose one writer waits for nobody else, the
        # hash (about a tenth of a second) must not be spent holding the write lock.
        password_hash = self.hash_password(password) if password else None
        existing = self.find_identity(organization, user_name)
        if existing is not None:
            existing = self.get_identity(organization, existing.id, for_update=True)
        if existing is not None:
            if existing.active:
                raise Conflict(
                    f"A user with userName {user_name!r} already exists in this organization."
                )
            existing.deleted_at = None  # a deleted user created again keeps its id
            self._set_identity_fields(
                existing, user_name, email, external_id, display_name, attributes, primary_email
            )
            self._index_emails(existing)
            if active:
                self._reactivate(existing, password_hash)
            return existing, False

        identity = self.models.identity(
            id=take_forced_scim_id("user") or new_scim_id(),
            organization_id=organization.id,
            active=False,
            version=1,
        )
        self._set_identity_fields(
            identity, user_name, email, external_id, display_name, attributes, primary_email
        )
        self.session.add(identity)
        # Insert now: a concurrent create of the same userName waits on the unique
        # index here and then gets a Conflict (409), not an error later on.
        self._flush_identity()
        self._index_emails(identity, new=True)
        if not active:
            self.audit(organization, "user.provision", "identity", identity.id, active=False)
            return identity, True

        account, created = self._attach(organization, identity, password_hash)
        self.audit(organization, "user.provision", "identity", identity.id)
        self._flush_identity()  # with the audit rows: one statement for them
        self._send(
            signals.user_provisioned,
            organization=organization,
            account=account,
            identity=identity,
            created_account=created,
        )
        return identity, True

    def update_identity(
        self,
        identity: t.Any,
        *,
        user_name: t.Any = UNSET,
        email: t.Any = UNSET,
        external_id: t.Any = UNSET,
        display_name: t.Any = UNSET,
        attributes: t.Any = UNSET,
        primary_email: t.Any = UNSET,
        password: t.Any = UNSET,
        active: t.Any = UNSET,
    ) -> frozenset[str]:
        """Change the fields given (others are left alone); return the names of those that changed.

        ``primary_email`` only feeds SCIM ``emails`` filters; it is not a change
        of its own (the attributes it comes from are).

        The identity always takes the new values. The attached account takes
        the new display name and password only when this organization manages
        it, and the new email only when, in addition, the organization has
        verified the new email's domain (directory rule 9); what is not applied
        is named, with the reason, in the audit log. ``active=False``
        deactivates after the other changes, ``active=True`` reactivates before
        them. The password is hashed whether or not it is applied, so that the
        answer takes as long either way. Does not commit.
        """
        organization = self.session.get(self.models.organization, identity.organization_id)
        # Before the first write (see provision).
        password_hash = (
            self.hash_password(password) if isinstance(password, str) and password else None
        )
        if active is True and not identity.active:
            self.reactivate(identity)
        if primary_email is not UNSET:
            identity.primary_email_key = primary_email.lower() if primary_email else None

        before = _audited_fields(identity)
        changes: set[str] = set()
        if user_name is not UNSET:
            user_name = _clean_user_name(user_name)
            if user_name != identity.user_name:
                other = self.find_identity(organization, user_name)
                if other is not None and other.id != identity.id:
                    if other.deleted_at is None:
                        raise Conflict(
                            f"A user with userName {user_name!r} already exists in this "
                            "organization."
                        )
                    self._release_user_name(other)
                identity.user_name, identity.user_name_key = user_name, fold(user_name)
                changes.add("user_name")
        if email is not UNSET:
            email = normalize_email(email)
            if email != identity.email:
                identity.email, identity.email_key = email, email.lower()
                changes.add("email")
        previous_emails = (identity.attributes or {}).get("emails")
        for field, value in (
            ("external_id", external_id),
            ("display_name", display_name),
            ("attributes", attributes),
        ):
            if value is not UNSET and value != getattr(identity, field):
                setattr(identity, field, value)
                changes.add(field)
        if changes & {"attributes", "display_name"}:
            identity.folded = folded(identity)
        if "attributes" in changes and (identity.attributes or {}).get("emails") != previous_emails:
            self._index_emails(identity)
        if password is not UNSET:
            changes.add("password")

        account_changes: set[str] = set()
        account = self.account_of(identity)
        if account is not None and changes & {"email", "display_name", "password"}:
            account_changes = self._apply_to_account(
                organization, account, identity, changes, password_hash
            )

        if changes:
            bump_version(identity)
            self.audit(
                organization,
                "user.update",
                "identity",
                identity.id,
                fields=sorted(changes),
                account_fields=sorted(account_changes),
                changed=changed_values(before, _audited_fields(identity)),
            )
            self._send(
                signals.user_updated,
                organization=organization,
                account=account,
                identity=identity,
                changes=frozenset(changes),
                account_changes=frozenset(account_changes),
            )
        if active is False and identity.active:
            self.deactivate(identity)
        return frozenset(changes)

    def sync_password(self, identity: t.Any, password: str) -> bool:
        """Store ``password`` (hashed) for ``identity``'s account; return whether it was stored.

        Not stored when the person is detached or the organization does not
        manage the account (directory rule 9). The password is never kept in
        clear, returned or logged. Does not commit.
        """
        self.update_identity(identity, password=password)
        account = self.account_of(identity)
        organization = self.session.get(self.models.organization, identity.organization_id)
        return account is not None and self.manages(organization, account)

    def deactivate(self, identity: t.Any) -> None:
        """Detach the person from the organization and all its teams (rule 6).

        An account that belongs to no other organization is then removed as
        the host chose (``account_removal``: disabled or deleted); the
        identity stays, readable, with ``active`` false, so that it can be
        reactivated on the same SCIM id. Deactivating twice does nothing.
        Does not commit.
        """
        if not identity.active:
            return
        organization = self.session.get(self.models.organization, identity.organization_id)
        account = self.account_of(identity)
        if account is not None:
            self.lock_account(account)
        identity.active = False
        identity.account_id = None
        bump_version(identity)
        self.audit(organization, "user.deactivate", "identity", identity.id)
        if account is not None:
            self._detach(organization, account, identity=identity, orphan=self.account_removal)
        self.session.flush()

    def reactivate(self, identity: t.Any, *, password: str | None = None) -> None:
        """Re-attach a deactivated person on the same SCIM id (rule 7).

        The account is found by the identity's email, or created anew if it
        was deleted. The person rejoins the teams of the SCIM groups they are
        still a member of (Okta does not push those again); other team
        memberships are not restored. Reactivating an active identity does
        nothing. Does not commit.
        """
        self._reactivate(identity, self.hash_password(password) if password else None)

    def _reactivate(self, identity: t.Any, password_hash: str | None) -> None:
        if identity.active:
            return
        organization = self.session.get(self.models.organization, identity.organization_id)
        account, created = self._attach(organization, identity, password_hash)
        bump_version(identity)
        self._flush_identity()
        self.audit(organization, "user.reactivate", "identity", identity.id)
        self._send(
            signals.user_reactivated,
            organization=organization,
            account=account,
            identity=identity,
            created_account=created,
        )
        self._restore_group_teams(identity)

    def delete_identity(self, identity: t.Any) -> None:
        """A SCIM DELETE: deactivate (rule 6), then hide the identity from SCIM reads.

        The row stays, inactive, so that JIT still refuses the person and a new
        create with the same userName revives the same id (rule 7). Does not
        commit.
        """
        self.deactivate(identity)
        self._forget_group_memberships(identity)
        identity.deleted_at = utcnow()
        organization = self.session.get(self.models.organization, identity.organization_id)
        self.audit(organization, "user.delete", "identity", identity.id)

    def remove_member(
        self, organization: t.Any, account: t.Any, *, orphan: str | None = None
    ) -> None:
        """Remove ``account`` from ``organization`` and its teams (not through SCIM).

        An identity provisioned by SCIM for this account is deactivated
        instead, so that Okta's view stays true. ``orphan`` says what happens
        to an account that then belongs to no organization: ``None`` keeps it
        as it is, ``"disable"`` or ``"delete"`` remove it as SCIM deactivation
        would (:meth:`remove_account`). Does not commit.
        """
        self.lock_account(account)
        ident = self.models.identity
        identity = self.session.scalars(
            select(ident).where(
                ident.organization_id == organization.id, ident.account_id == account.id
            )
        ).first()
        if identity is not None:
            identity.active = False
            identity.account_id = None
            bump_version(identity)
        self.audit(organization, "member.remove", "person", None, email=account.email)
        self._detach(organization, account, identity=identity, orphan=orphan)

    def _set_identity_fields(
        self,
        identity: t.Any,
        user_name: str,
        email: str,
        external_id: str | None,
        display_name: str | None,
        attributes: dict[str, t.Any] | None,
        primary_email: str | None,
    ) -> None:
        identity.user_name, identity.user_name_key = user_name, fold(user_name)
        identity.email, identity.email_key = email, email.lower()
        identity.external_id = external_id
        identity.display_name = display_name
        identity.attributes = dict(attributes or {})
        identity.folded = folded(identity)
        identity.primary_email_key = primary_email.lower() if primary_email else None

    def _attach(
        self, organization: t.Any, identity: t.Any, password_hash: str | None
    ) -> tuple[t.Any, bool]:
        """Find or create the account for ``identity``'s email, join it, mark identity active.

        Under the account's lock (directory rule 9). A new account records the
        organization as its creator and takes ``password_hash`` if the
        organization manages it; an existing account keeps its password. The
        caller hashed the password either way, before its first write, so that
        the answer takes as long whether or not the account existed.
        """
        account = self.find_account(identity.email)
        created = account is None
        if account is None:
            # The new account takes the password only if this organization will manage
            # it (rule 9): no other organization holds its domain verified.
            keep = password_hash is not None and self.verified_domain_owner(
                email_domain(identity.email)
            ) in (None, organization.id)
            account = self._create_account(
                identity.email, identity.display_name, password_hash=password_hash if keep else None
            )
            self.record_creator(account, organization, password_set=keep)
        else:
            self.lock_account(account)
            ident = self.models.identity
            other = self.session.scalar(
                select(ident.user_name)
                .where(
                    ident.organization_id == organization.id,
                    ident.account_id == account.id,
                    ident.id != identity.id,
                )
                .limit(1)
            )
            if other is not None:
                raise Conflict(
                    f"This person is already provisioned in this organization as {other!r}."
                )
        self.add_member(organization, account, via="scim")
        identity.active = True
        identity.account_id = account.id
        return account, created

    def _apply_to_account(
        self,
        organization: t.Any,
        account: t.Any,
        identity: t.Any,
        changes: set[str],
        password_hash: str | None,
    ) -> set[str]:
        """Carry the identity's changes over to the account where directory rule 9 allows.

        What is not applied is audited per person, with the reason. Returns
        the names of the account fields that changed.
        """
        wanted = changes & {"email", "display_name", "password"}
        # Who manages the account can change under us (another organization verifies the
        # domain): decide and write under the account's lock.
        self.lock_account(account)
        if not self.manages(organization, account):
            self._not_applied(organization, identity, wanted, NOT_MANAGED)
            return set()
        applied: set[str] = set()
        if "email" in wanted and account.email.lower() != identity.email.lower():
            owner = self.verified_domain_owner(email_domain(identity.email))
            if owner != organization.id:
                self._not_applied(organization, identity, {"email"}, EMAIL_DOMAIN_NOT_VERIFIED)
            else:
                # In a domain this organization verified, every account is its own:
                # a clash names only one of its own people.
                other = self.find_account(identity.email)
                if other is not None and other.id != account.id:
                    raise Conflict(
                        "Another person of this organization already signs in with this email."
                    )
                account.email = identity.email
                applied.add("email")
        elif "email" in wanted and account.email != identity.email:
            account.email = identity.email  # only the case differs
            applied.add("email")
        if "display_name" in wanted:
            account.display_name = _short(identity.display_name)
            applied.add("display_name")
        if "password" in wanted:
            if password_hash is None:
                account.password_hash = None
                self._control(account).password_set_by_organization_id = None
            else:
                self.set_password_for(organization, account, password_hash)
            applied.add("password")
        return applied

    def _not_applied(
        self, organization: t.Any, identity: t.Any, fields: set[str], reason: str
    ) -> None:
        if fields:
            self.audit(
                organization,
                "user.update",
                "identity",
                identity.id,
                outcome="not_applied",
                reason=reason,
                fields=sorted(fields),
            )

    def _detach(
        self, organization: t.Any, account: t.Any, *, identity: t.Any, orphan: str | None
    ) -> None:
        """Take ``account`` out of ``organization`` and its teams; if it is nowhere else, remove it.

        ``orphan`` is the removal policy (``"disable"``, ``"delete"``), or
        ``None`` to keep an account that belongs nowhere as it is.

        Call it under the account's lock. What happens to the account (removed,
        or kept because it belongs elsewhere) goes to the operator's audit log,
        not the organization's: it would tell whether the person has an
        account elsewhere.
        """
        tm, m = self.models.team_member, self.models.membership
        previous_manager = self.managing_organization_id(account)
        teams = self.teams_of(account, organization)
        self._send(
            signals.user_detached,
            organization=organization,
            account=account,
            identity=identity,
            teams=teams,
        )
        if teams:
            self.session.execute(
                delete(tm).where(
                    tm.account_id == account.id, tm.team_id.in_([team.id for team in teams])
                )
            )
            for team in teams:
                self._send(
                    signals.team_members_changed,
                    organization=organization,
                    team=team,
                    added=[],
                    removed=[account],
                )
        self.session.execute(
            delete(m).where(m.organization_id == organization.id, m.account_id == account.id)
        )
        if orphan is not None and not self.organizations_of(account):
            done = self.remove_account(account, organization, policy=orphan)
            if done == "deleted":
                return
        self.stopped_managing(account, previous_manager, reason="detached")

    def _flush_identity(self) -> None:
        self._flush("A user with this userName or email was created at the same moment; retry.")


def _clean_user_name(value: t.Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("userName must be a non-empty string.")
    if max(len(value), len(fold(value))) > 512:  # the key column holds the folded form
        raise InvalidValue("userName must be at most 512 characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidValue("userName must not contain control characters.")
    return value
