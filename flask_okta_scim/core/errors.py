"""Errors raised by the directory rules, independent of any wire format.

The SCIM layer turns them into RFC 7644 error bodies, the CLI into a message on
stderr, the SAML layer into an error page. Each carries a stable ``code`` that
callers may switch on, and a ``message`` meant for an operator: messages never
contain passwords or tokens.
"""

from __future__ import annotations


class DirectoryError(Exception):
    """Base class for every refusal of the directory service."""

    #: A stable, machine-readable identifier for the kind of refusal.
    code = "directory_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(DirectoryError):
    """The organization, team, account or identity asked for does not exist."""

    code = "not_found"


class Conflict(DirectoryError):
    """The change would create a duplicate (same userName, same email, ...)."""

    code = "conflict"


class ConcurrentUpdate(Conflict):
    """A concurrent transaction made this one fail (deadlock, serialization failure).

    The same request may well succeed if run again: the SCIM layer retries it a
    few times before answering 409.
    """

    code = "concurrent_update"


class InvalidValue(DirectoryError):
    """A value is malformed: not an email address, an empty team name, ..."""

    code = "invalid_value"


class NotManaged(DirectoryError):
    """The account's credentials belong to another manager (directory rule 9).

    Raised when code acting for an organization, or for the person, changes a
    password or sign-in email of an account it does not manage.
    """

    code = "not_managed"


class NotReady(DirectoryError):
    """The organization is not set up for this yet (e.g. provisioning without a connected SSO)."""

    code = "not_ready"


class NotAMember(DirectoryError):
    """Accounts named for a team are not members of the team's organization.

    ``account_ids`` lists the offending ids, so an API can name them.
    """

    code = "not_a_member"

    def __init__(self, message: str, account_ids: list[object]) -> None:
        super().__init__(message)
        self.account_ids = account_ids


class JitRefused(DirectoryError):
    """Just-in-time provisioning was refused (directory rule 3, docs/directory.rst).

    ``reason`` is one of :attr:`DOMAIN_NOT_APPROVED`, :attr:`DEACTIVATED`,
    :attr:`DOMAIN_VERIFIED_ELSEWHERE` and :attr:`NOT_MANAGED`.
    """

    code = "jit_refused"
    #: No team of the organization pre-approves the email's domain.
    DOMAIN_NOT_APPROVED = "domain_not_approved"
    #: SCIM deactivated the person in this organization.
    DEACTIVATED = "deactivated_by_scim"
    #: Another organization verified the email's domain.
    DOMAIN_VERIFIED_ELSEWHERE = "domain_verified_elsewhere"
    #: An account exists for the email and this organization does not manage it.
    NOT_MANAGED = "account_not_managed"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
