"""Configuration keys, their defaults, and their validation.

Every key starts with ``OKTA_SCIM_``, so ``app.config.from_prefixed_env()``
reads them from ``FLASK_OKTA_SCIM_*`` environment variables. They are read once,
in :meth:`~flask_okta_scim.OktaSCIM.init_app`; a bad value fails there with a
message that names the key. A missing ``OKTA_SCIM_BASE_URL`` does not: only
what builds public URLs needs it (sign-in, the SCIM API, commands that print
URLs), and each of those refuses with :class:`BaseUrlNotSet`, so commands such
as ``flask db upgrade`` run without it. This module does not import Flask.
"""

from __future__ import annotations

import ipaddress
import math
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .core.domain_check import Resolver


class ConfigKeys:
    """The names of the configuration keys (see ``docs/config.rst``)."""

    #: The public base URL of the application, e.g. ``https://app.example.com``.
    #: SAML URLs (ACS, entity ID, metadata) and SCIM ``Location`` headers are
    #: built from it, never from the request's ``Host`` header. Needed by single
    #: sign-on, the SCIM API and the commands that print URLs; everything else
    #: works without it.
    BASE_URL = "OKTA_SCIM_BASE_URL"
    #: Where the SCIM 2.0 API is mounted.
    SCIM_URL_PREFIX = "OKTA_SCIM_URL_PREFIX"
    #: Where the SAML sign-in endpoints are mounted.
    SSO_URL_PREFIX = "OKTA_SCIM_SSO_URL_PREFIX"
    #: The role given to people who join an organization by SCIM or JIT.
    DEFAULT_ROLE = "OKTA_SCIM_DEFAULT_ROLE"
    #: The largest page a SCIM list returns (``count`` is capped to it).
    MAX_PAGE_SIZE = "OKTA_SCIM_MAX_PAGE_SIZE"
    #: The largest SCIM request body accepted, in bytes; larger ones get 413.
    MAX_BODY_BYTES = "OKTA_SCIM_MAX_BODY_BYTES"
    #: SCIM requests allowed per organization, one rate or several joined by ``;``
    #: (every one applies), e.g. ``"50/second;2000/minute"``; excess gets 429.
    RATE_LIMIT = "OKTA_SCIM_RATE_LIMIT"
    #: Where rate-limit counters live: ``memory://`` (one process) or ``redis://host:6379``.
    RATE_LIMIT_STORAGE = "OKTA_SCIM_RATE_LIMIT_STORAGE"
    #: Seconds an old token keeps working after ``scim rotate-token``, unless the
    #: new token is used first.
    TOKEN_ROTATION_GRACE = "OKTA_SCIM_TOKEN_ROTATION_GRACE"
    #: Allow IdP metadata URLs over plain http and on private or loopback
    #: addresses (tests, on-premises IdPs). Off: https and public addresses only.
    METADATA_ALLOW_PRIVATE = "OKTA_SCIM_METADATA_ALLOW_PRIVATE"
    #: Seconds a person may take at the IdP to finish an SP-initiated sign-in.
    SSO_REQUEST_LIFETIME = "OKTA_SCIM_SSO_REQUEST_LIFETIME"
    #: The largest request body the sign-in URLs (start, ACS) read, in bytes; larger
    #: ones get 413 before any of it is parsed, whatever ``MAX_CONTENT_LENGTH`` says.
    SSO_MAX_BODY_BYTES = "OKTA_SCIM_SSO_MAX_BODY_BYTES"
    #: Refused ACS posts per connection that are audited and logged, e.g.
    #: ``"20/minute;200/hour"``; beyond, refusals get 429 and no audit record.
    SSO_FAILURE_LIMIT = "OKTA_SCIM_SSO_FAILURE_LIMIT"
    #: Refused ACS posts allowed per client address; beyond, its posts get 429
    #: before they are read.
    SSO_ADDRESS_FAILURE_LIMIT = "OKTA_SCIM_SSO_ADDRESS_FAILURE_LIMIT"
    #: SP-initiated sign-ins a client address may start; beyond, 429.
    SSO_START_LIMIT = "OKTA_SCIM_SSO_START_LIMIT"
    #: A page for customer admins about your SCIM API, published as the
    #: ``documentationUri`` of ``/ServiceProviderConfig``. Optional.
    DOCUMENTATION_URL = "OKTA_SCIM_DOCUMENTATION_URL"
    #: Let a session that Flask-Login restores from its "remember me" cookie go on
    #: (as a password session vouched for by nobody). Off: such sessions are signed
    #: out, since the cookie survives "sign out everywhere" and credential changes.
    TRUST_REMEMBER_COOKIES = "OKTA_SCIM_TRUST_REMEMBER_COOKIES"
    #: The DNS servers that domain checks ask (IP addresses, comma-separated or a
    #: list); empty: the system's resolver (``/etc/resolv.conf``).
    DNS_NAMESERVERS = "OKTA_SCIM_DNS_NAMESERVERS"
    #: The port of those DNS servers.
    DNS_PORT = "OKTA_SCIM_DNS_PORT"
    #: Seconds one domain check may take in all.
    DNS_TIMEOUT = "OKTA_SCIM_DNS_TIMEOUT"
    #: Warn this many days before a connection's last IdP signing certificate
    #: expires (``sso show``, ``sso check-certificates``).
    CERTIFICATE_WARNING_DAYS = "OKTA_SCIM_CERTIFICATE_WARNING_DAYS"
    #: Days a certificate that the IdP's metadata stopped listing stays trusted after
    #: the metadata refresh that found it gone (a rollover without a gap).
    CERTIFICATE_OVERLAP_DAYS = "OKTA_SCIM_CERTIFICATE_OVERLAP_DAYS"
    #: Hours between two metadata refreshes of a connection by ``flask okta-scim sso
    #: refresh-metadata --all`` (run from cron).
    METADATA_REFRESH_HOURS = "OKTA_SCIM_METADATA_REFRESH_HOURS"
    #: What SCIM deactivation does to an account that then belongs to no
    #: organization: ``"disable"`` (keep the row, disabled; reactivation finds
    #: it) or ``"delete"`` (delete the row; disabled instead if the
    #: application's own foreign keys forbid it).
    ACCOUNT_REMOVAL = "OKTA_SCIM_ACCOUNT_REMOVAL"
    #: What a SCIM ``DELETE /Groups/{id}`` (an Okta admin unlinking a pushed group
    #: with "Delete the group in the target app") does to the team, unless the
    #: organization chose otherwise: ``"quarantine"`` (set the team aside with its
    #: resources until a purge; restorable), ``"delete"`` (delete it and, through
    #: ``team_deleted``, its resources) or ``"detach"`` (keep it as an ordinary team).
    TEAM_DELETION = "OKTA_SCIM_TEAM_DELETION"
    #: Days a quarantined team waits before ``flask okta-scim purge`` deletes it.
    TEAM_QUARANTINE_DAYS = "OKTA_SCIM_TEAM_QUARANTINE_DAYS"
    #: The mass-deprovisioning guard: within this many minutes, more than
    #: ``GUARD_DEACTIVATIONS`` deactivations (or more than ``GUARD_DEACTIVATION_PERCENT``
    #: percent of the organization's members, but never fewer than 20), or more than
    #: ``GUARD_TEAM_DELETIONS`` team deletions, hold every further destructive SCIM
    #: change of the organization for an admin. ``0`` turns a threshold off.
    GUARD_WINDOW_MINUTES = "OKTA_SCIM_GUARD_WINDOW_MINUTES"
    GUARD_DEACTIVATIONS = "OKTA_SCIM_GUARD_DEACTIVATIONS"
    GUARD_DEACTIVATION_PERCENT = "OKTA_SCIM_GUARD_DEACTIVATION_PERCENT"
    GUARD_TEAM_DELETIONS = "OKTA_SCIM_GUARD_TEAM_DELETIONS"
    #: Days audit entries are kept; ``flask okta-scim purge`` deletes older ones.
    #: ``0`` keeps them forever.
    AUDIT_RETENTION_DAYS = "OKTA_SCIM_AUDIT_RETENTION_DAYS"
    #: Where :meth:`~flask_okta_scim.OktaSCIM.init_admin` mounts the admin console.
    ADMIN_URL_PREFIX = "OKTA_SCIM_ADMIN_URL_PREFIX"
    #: The template the admin console's pages extend (its ``content`` block); by
    #: default a plain page of the extension's.
    ADMIN_LAYOUT = "OKTA_SCIM_ADMIN_LAYOUT"
    #: Secrets that seal the SP's private keys in the database: a list, the first
    #: seals, every one opens (rotation). Empty: derived from ``SECRET_KEY``.
    SP_KEY_SECRETS = "OKTA_SCIM_SP_KEY_SECRETS"


#: The team-deletion policies (``OKTA_SCIM_TEAM_DELETION``, and per organization).
TEAM_DELETION_POLICIES = ("quarantine", "delete", "detach")

DEFAULTS: dict[str, t.Any] = {
    ConfigKeys.BASE_URL: None,
    ConfigKeys.SCIM_URL_PREFIX: "/scim/v2",
    ConfigKeys.SSO_URL_PREFIX: "/users/sign-in/sso/okta",
    ConfigKeys.DEFAULT_ROLE: "member",
    ConfigKeys.MAX_PAGE_SIZE: 200,
    ConfigKeys.MAX_BODY_BYTES: 1024 * 1024,
    # Bursts up to twice the 25 requests a second Microsoft asks gallery SCIM apps to absorb,
    # a sustained third more; docs/scim.rst "Rate limit: why the default".
    ConfigKeys.RATE_LIMIT: "50/second;2000/minute",
    ConfigKeys.RATE_LIMIT_STORAGE: "memory://",
    ConfigKeys.TOKEN_ROTATION_GRACE: 7 * 24 * 3600,
    ConfigKeys.METADATA_ALLOW_PRIVATE: False,
    ConfigKeys.SSO_REQUEST_LIFETIME: 900,
    ConfigKeys.SSO_MAX_BODY_BYTES: 1024 * 1024,
    ConfigKeys.SSO_FAILURE_LIMIT: "20/minute;200/hour",
    ConfigKeys.SSO_ADDRESS_FAILURE_LIMIT: "10/minute;100/hour",
    ConfigKeys.SSO_START_LIMIT: "30/minute;300/hour",
    ConfigKeys.DOCUMENTATION_URL: None,
    ConfigKeys.TRUST_REMEMBER_COOKIES: False,
    ConfigKeys.DNS_NAMESERVERS: (),
    ConfigKeys.DNS_PORT: 53,
    ConfigKeys.DNS_TIMEOUT: 5,
    ConfigKeys.CERTIFICATE_WARNING_DAYS: 30,
    ConfigKeys.CERTIFICATE_OVERLAP_DAYS: 7,
    ConfigKeys.METADATA_REFRESH_HOURS: 24,
    # Keeps the host's rows that point at the person, and reactivation keeps the account's id:
    # docs/directory.rst "Removing a person".
    ConfigKeys.ACCOUNT_REMOVAL: "disable",
    ConfigKeys.TEAM_DELETION: "quarantine",
    ConfigKeys.TEAM_QUARANTINE_DAYS: 30,
    ConfigKeys.AUDIT_RETENTION_DAYS: 365,
    ConfigKeys.GUARD_WINDOW_MINUTES: 60,
    ConfigKeys.GUARD_DEACTIVATIONS: 50,
    ConfigKeys.GUARD_DEACTIVATION_PERCENT: 20,
    ConfigKeys.GUARD_TEAM_DELETIONS: 10,
    ConfigKeys.ADMIN_URL_PREFIX: "/okta-scim/admin",
    ConfigKeys.ADMIN_LAYOUT: "okta_scim/admin/_standalone.html",
    ConfigKeys.SP_KEY_SECRETS: [],
}


class ConfigError(ValueError):
    """A configuration key is missing or has an unusable value."""


class BaseUrlNotSet(ConfigError):
    """``OKTA_SCIM_BASE_URL`` is not set, and something that builds public URLs needs it.

    ``needed_by`` says what (``"single sign-on"``, ``"the SCIM API"``, a command).
    """

    def __init__(self, needed_by: str) -> None:
        self.needed_by = needed_by
        super().__init__(
            f"{ConfigKeys.BASE_URL} must be set to the public base URL of the application, "
            f"e.g. 'https://app.example.com': {needed_by} builds its URLs from it."
        )


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one application."""

    #: The normalised ``OKTA_SCIM_BASE_URL``, or ``None`` when it is not set.
    configured_base_url: str | None
    scim_url_prefix: str
    sso_url_prefix: str
    default_role: str
    max_page_size: int
    max_body_bytes: int
    rate_limit: str
    rate_limit_storage: str
    token_rotation_grace: int
    metadata_allow_private: bool
    sso_request_lifetime: int
    sso_max_body_bytes: int
    sso_failure_limit: str
    sso_address_failure_limit: str
    sso_start_limit: str
    documentation_url: str | None
    trust_remember_cookies: bool
    dns_nameservers: tuple[str, ...]
    dns_port: int
    dns_timeout: float
    certificate_warning_days: int
    account_removal: str
    team_deletion: str
    team_quarantine_days: int
    audit_retention_days: int
    guard: dict[str, int]
    admin_url_prefix: str
    admin_layout: str
    sp_key_secrets: tuple[str, ...] = ()
    certificate_overlap_days: int = 7
    metadata_refresh_hours: int = 24

    def resolver(self) -> Resolver:
        """The DNS resolver that domain checks use."""
        return Resolver(
            nameservers=self.dns_nameservers, port=self.dns_port, timeout=self.dns_timeout
        )

    @property
    def has_base_url(self) -> bool:
        """Whether ``OKTA_SCIM_BASE_URL`` is set."""
        return self.configured_base_url is not None

    @property
    def base_url(self) -> str:
        """The public base URL; raises :class:`BaseUrlNotSet` when it is not set."""
        return self.require_base_url("single sign-on or the SCIM API")

    def require_base_url(self, needed_by: str) -> str:
        """The public base URL, or :class:`BaseUrlNotSet` naming ``needed_by``."""
        if self.configured_base_url is None:
            raise BaseUrlNotSet(needed_by)
        return self.configured_base_url

    def url(self, path: str) -> str:
        """Return the public URL of ``path`` (which starts with ``/``).

        Raises :class:`BaseUrlNotSet` when ``OKTA_SCIM_BASE_URL`` is not set.
        """
        return self.base_url + path

    @property
    def cross_site_cookies_possible(self) -> bool:
        """Whether browsers will send a ``SameSite=None`` cookie to the base URL.

        ``SameSite=None`` needs ``Secure``, which browsers allow on https and on
        localhost only. Without it, Okta's cross-site POST to the ACS arrives
        without the cookie that binds an SP-initiated sign-in to its browser.
        ``True`` when the base URL is not set (nothing to warn about yet).
        """
        if self.configured_base_url is None:
            return True
        parts = urlsplit(self.configured_base_url)
        host = parts.hostname or ""
        return (
            parts.scheme == "https"
            or host in ("localhost", "127.0.0.1")
            or host.endswith(".localhost")
        )


def load_settings(config: Mapping[str, t.Any]) -> Settings:
    """Validate the ``OKTA_SCIM_*`` keys of ``config``.

    Raises :class:`ConfigError` with a message that names the faulty key. An
    absent (or empty) ``OKTA_SCIM_BASE_URL`` is not an error here.
    """
    return Settings(
        configured_base_url=_base_url(config.get(ConfigKeys.BASE_URL)),
        scim_url_prefix=_prefix(config, ConfigKeys.SCIM_URL_PREFIX),
        sso_url_prefix=_prefix(config, ConfigKeys.SSO_URL_PREFIX),
        default_role=_word(config, ConfigKeys.DEFAULT_ROLE),
        max_page_size=_int(config, ConfigKeys.MAX_PAGE_SIZE, 1, 10_000),
        max_body_bytes=_int(config, ConfigKeys.MAX_BODY_BYTES, 1024, 1 << 30),
        rate_limit=_rate(config, ConfigKeys.RATE_LIMIT),
        rate_limit_storage=_storage(config, ConfigKeys.RATE_LIMIT_STORAGE),
        token_rotation_grace=_int(config, ConfigKeys.TOKEN_ROTATION_GRACE, 0, 90 * 24 * 3600),
        metadata_allow_private=_bool(config, ConfigKeys.METADATA_ALLOW_PRIVATE),
        sso_request_lifetime=_int(config, ConfigKeys.SSO_REQUEST_LIFETIME, 60, 24 * 3600),
        sso_max_body_bytes=_int(config, ConfigKeys.SSO_MAX_BODY_BYTES, 16 * 1024, 1 << 24),
        sso_failure_limit=_rate(config, ConfigKeys.SSO_FAILURE_LIMIT),
        sso_address_failure_limit=_rate(config, ConfigKeys.SSO_ADDRESS_FAILURE_LIMIT),
        sso_start_limit=_rate(config, ConfigKeys.SSO_START_LIMIT),
        documentation_url=_optional_url(config, ConfigKeys.DOCUMENTATION_URL),
        trust_remember_cookies=_bool(config, ConfigKeys.TRUST_REMEMBER_COOKIES),
        dns_nameservers=_addresses(config, ConfigKeys.DNS_NAMESERVERS),
        dns_port=_int(config, ConfigKeys.DNS_PORT, 1, 65535),
        dns_timeout=_seconds(config, ConfigKeys.DNS_TIMEOUT, 0.05, 60),
        certificate_warning_days=_int(config, ConfigKeys.CERTIFICATE_WARNING_DAYS, 0, 365),
        account_removal=_one_of(config, ConfigKeys.ACCOUNT_REMOVAL, ("disable", "delete")),
        team_deletion=_one_of(config, ConfigKeys.TEAM_DELETION, TEAM_DELETION_POLICIES),
        team_quarantine_days=_int(config, ConfigKeys.TEAM_QUARANTINE_DAYS, 0, 3650),
        audit_retention_days=_int(config, ConfigKeys.AUDIT_RETENTION_DAYS, 0, 36500),
        guard={
            "window_minutes": _int(config, ConfigKeys.GUARD_WINDOW_MINUTES, 1, 7 * 24 * 60),
            "deactivations": _int(config, ConfigKeys.GUARD_DEACTIVATIONS, 0, 10_000_000),
            "deactivation_percent": _int(config, ConfigKeys.GUARD_DEACTIVATION_PERCENT, 0, 100),
            "team_deletions": _int(config, ConfigKeys.GUARD_TEAM_DELETIONS, 0, 1_000_000),
        },
        admin_url_prefix=_prefix(config, ConfigKeys.ADMIN_URL_PREFIX),
        admin_layout=_template(config, ConfigKeys.ADMIN_LAYOUT),
        sp_key_secrets=_secrets(config, ConfigKeys.SP_KEY_SECRETS),
        certificate_overlap_days=_int(config, ConfigKeys.CERTIFICATE_OVERLAP_DAYS, 0, 365),
        metadata_refresh_hours=_int(config, ConfigKeys.METADATA_REFRESH_HOURS, 1, 24 * 30),
    )


def _base_url(value: t.Any) -> str | None:
    key = ConfigKeys.BASE_URL
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, not {type(value).__name__}.")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key} must be an absolute http(s) URL, got {value!r}.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"{key} must not contain a query, a fragment or credentials, got {value!r}."
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _optional_url(config: Mapping[str, t.Any], key: str) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key} must be an absolute http(s) URL, got {value!r}.")
    return str(value)


def _addresses(config: Mapping[str, t.Any], key: str) -> tuple[str, ...]:
    value = config.get(key) or ()
    items = value.split(",") if isinstance(value, str) else value
    try:
        found = tuple(str(ipaddress.ip_address(str(item).strip())) for item in items if item)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{key} must list IP addresses of DNS servers (comma-separated), got {value!r}."
        ) from None
    return found


def _seconds(config: Mapping[str, t.Any], key: str, low: float, high: float) -> float:
    value = config.get(key)
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not low <= seconds <= high:
        raise ConfigError(f"{key} must be a number of seconds from {low} to {high}, got {value!r}.")
    return seconds


def _prefix(config: Mapping[str, t.Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.startswith("/") or len(value) < 2:
        raise ConfigError(f"{key} must be a URL path starting with '/', got {value!r}.")
    if value.endswith("/") or "//" in value or any(c in value for c in "?#<> "):
        raise ConfigError(
            f"{key} must not end with '/' or contain '//', '?', '#' or blanks, got {value!r}."
        )
    return value


def _secrets(config: Mapping[str, t.Any], key: str) -> tuple[str, ...]:
    value = config.get(key) or ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{key} must be a list of secret strings (the first seals).")
    secrets = tuple(item for item in items if item)
    if any(len(item) < 16 for item in secrets):
        raise ConfigError(f"{key}: each secret needs at least 16 characters.")
    return secrets


def _template(config: Mapping[str, t.Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ConfigError(f"{key} must be a template name, e.g. 'base.html'.")
    return value.strip()


def _one_of(config: Mapping[str, t.Any], key: str, choices: tuple[str, ...]) -> str:
    value = config.get(key, DEFAULTS[key])
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(map(repr, choices))}, not {value!r}.")
    return t.cast(str, value)


def _word(config: Mapping[str, t.Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 50:
        raise ConfigError(f"{key} must be a non-empty string of at most 50 characters.")
    return value.strip()


def _int(config: Mapping[str, t.Any], key: str, low: int, high: int) -> int:
    value = config.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{key} must be an integer from {low} to {high}, got {value!r}.")
    return value


def _rate(config: Mapping[str, t.Any], key: str) -> str:
    from limits import parse_many

    value = config.get(key)
    try:
        parse_many(str(value))
    except ValueError:
        raise ConfigError(
            f"{key} must be a rate such as '600/minute' or '50/second;2000/minute', got {value!r}."
        ) from None
    return str(value)


def _storage(config: Mapping[str, t.Any], key: str) -> str:
    from limits.storage import storage_from_string

    value = config.get(key)
    if not isinstance(value, str) or "://" not in value:
        raise ConfigError(f"{key} must be a storage URL such as 'memory://', got {value!r}.")
    try:
        storage_from_string(value)
    except Exception as e:  # unknown scheme, or its client library is not installed
        raise ConfigError(f"{key} cannot be used ({value!r}): {e}") from None
    return value


def _bool(config: Mapping[str, t.Any], key: str) -> bool:
    value = config.get(key)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}.")
    return value
