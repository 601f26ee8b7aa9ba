"""Configuration keys, their defaults, and their validation.

Every key starts with ``OKTA_SCIM_``, so ``app.config.from_prefixed_env()``
reads them from ``FLASK_OKTA_SCIM_*`` environment variables. They are read once,
in :meth:`~flask_okta_scim.OktaSCIM.init_app`; a bad value fails there with a
message that names the key. This module does not import Flask.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

PREFIX = "OKTA_SCIM_"


class ConfigKeys:
    """The names of the configuration keys (see ``docs/config.rst``)."""

    #: The public base URL of the application, e.g. ``https://app.example.com``.
    #: SAML URLs (ACS, entity ID, metadata) and SCIM ``Location`` headers are
    #: built from it, never from the request's ``Host`` header. Required.
    BASE_URL = "OKTA_SCIM_BASE_URL"
    #: Where the SCIM 2.0 API is mounted.
    SCIM_URL_PREFIX = "OKTA_SCIM_URL_PREFIX"
    #: Where the SAML sign-in endpoints are mounted.
    SSO_URL_PREFIX = "OKTA_SCIM_SSO_URL_PREFIX"
    #: The role given to people who join an organization by SCIM or JIT.
    DEFAULT_ROLE = "OKTA_SCIM_DEFAULT_ROLE"
    #: The role that may manage an organization's SSO and SCIM settings.
    ADMIN_ROLE = "OKTA_SCIM_ADMIN_ROLE"


DEFAULTS: dict[str, t.Any] = {
    ConfigKeys.BASE_URL: None,
    ConfigKeys.SCIM_URL_PREFIX: "/scim/v2",
    ConfigKeys.SSO_URL_PREFIX: "/users/sign-in/sso/okta",
    ConfigKeys.DEFAULT_ROLE: "member",
    ConfigKeys.ADMIN_ROLE: "admin",
}


class ConfigError(ValueError):
    """A configuration key is missing or has an unusable value."""


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one application."""

    base_url: str
    scim_url_prefix: str
    sso_url_prefix: str
    default_role: str
    admin_role: str

    def url(self, path: str) -> str:
        """Return the public URL of ``path`` (which starts with ``/``)."""
        return self.base_url + path


def load_settings(config: Mapping[str, t.Any]) -> Settings:
    """Validate the ``OKTA_SCIM_*`` keys of ``config``.

    Raises :class:`ConfigError` with a message that names the faulty key.
    """
    return Settings(
        base_url=_base_url(config.get(ConfigKeys.BASE_URL)),
        scim_url_prefix=_prefix(config, ConfigKeys.SCIM_URL_PREFIX),
        sso_url_prefix=_prefix(config, ConfigKeys.SSO_URL_PREFIX),
        default_role=_word(config, ConfigKeys.DEFAULT_ROLE),
        admin_role=_word(config, ConfigKeys.ADMIN_ROLE),
    )


def _base_url(value: t.Any) -> str:
    key = ConfigKeys.BASE_URL
    if not value:
        raise ConfigError(
            f"{key} must be set to the public base URL of the application, "
            "e.g. 'https://app.example.com'."
        )
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


def _prefix(config: Mapping[str, t.Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.startswith("/") or len(value) < 2:
        raise ConfigError(f"{key} must be a URL path starting with '/', got {value!r}.")
    if value.endswith("/") or "//" in value or any(c in value for c in "?#<> "):
        raise ConfigError(
            f"{key} must not end with '/' or contain '//', '?', '#' or blanks, got {value!r}."
        )
    return value


def _word(config: Mapping[str, t.Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 50:
        raise ConfigError(f"{key} must be a non-empty string of at most 50 characters.")
    return value.strip()
