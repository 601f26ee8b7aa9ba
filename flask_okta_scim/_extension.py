"""The Flask extension object."""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Callable
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from flask import Flask
from flask import current_app

from .config import DEFAULTS
from .config import Settings
from .config import load_settings
from .passwords import hash_password as default_hash_password
from .sqla.directory import Directory
from .sqla.models import Models
from .sqla.models import define_models
from .web.scim_guard import RateLimiter
from .web.sso import cross_site_cookies_possible

logger = logging.getLogger("flask_okta_scim")


@dataclass(frozen=True)
class _State:
    """What the extension keeps for one application."""

    settings: Settings
    scim_rate_limiter: RateLimiter


class OktaSCIM:
    """Okta SSO and SCIM provisioning for a multi-tenant Flask application.

    The host keeps its own account, organization and team models (built with
    the mixins of :mod:`flask_okta_scim.sqla`) and passes them here with its
    Flask-SQLAlchemy ``db``; the extension defines its own tables next to them::

        db = SQLAlchemy()
        okta = OktaSCIM(db=db, account_model=Account,
                        organization_model=Organization, team_model=Team)

        def create_app():
            app = Flask(__name__)
            app.config.from_prefixed_env()
            db.init_app(app)
            okta.init_app(app)
            return app

    :param app: an application to initialise now; or call :meth:`init_app` later.
    :param db: the host's :class:`flask_sqlalchemy.SQLAlchemy` instance.
    :param account_model: the host's account model (with
        :class:`~flask_okta_scim.sqla.AccountMixin`).
    :param organization_model: the host's organization model.
    :param team_model: the host's team model.
    :param table_prefix: prefix of the extension's own table names.
    :param hash_password: turns a password synced by Okta into the stored
        hash; by default a salted scrypt hash.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: t.Any = None,
        account_model: t.Any = None,
        organization_model: t.Any = None,
        team_model: t.Any = None,
        table_prefix: str = "okta_scim_",
        hash_password: Callable[[str], str] = default_hash_password,
    ) -> None:
        for name, value in (
            ("db", db),
            ("account_model", account_model),
            ("organization_model", organization_model),
            ("team_model", team_model),
        ):
            if value is None:
                raise TypeError(f"OktaSCIM() needs the host's {name}= argument.")
        self.db = db
        #: The host's models and the extension's own (:class:`~flask_okta_scim.sqla.Models`).
        self.models: Models = define_models(
            db.Model,
            account=account_model,
            organization=organization_model,
            team=team_model,
            table_prefix=table_prefix,
        )
        self.hash_password = hash_password
        self._state: WeakKeyDictionary[Flask, _State] = WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the extension on ``app``.

        Sets the defaults of every ``OKTA_SCIM_*`` key that ``app.config``
        lacks, validates them all once (a :class:`~flask_okta_scim.config.ConfigError`
        names the faulty key) and adds the ``flask okta-scim`` commands. Does
        not create any table.
        """
        if "okta_scim" in app.extensions:
            raise RuntimeError(
                "An 'OktaSCIM' instance has already been registered on this Flask app."
                " Import and use that instance instead."
            )
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        settings = load_settings(app.config)
        if not cross_site_cookies_possible(settings.base_url):
            logger.warning(
                "OKTA_SCIM_BASE_URL %s is not https: browsers will not send the sign-in "
                "cookie with Okta's cross-site POST, so SP-initiated sign-in will fail.",
                settings.base_url,
            )
        self._state[app] = _State(
            settings=settings,
            scim_rate_limiter=RateLimiter(settings.rate_limit, settings.rate_limit_storage),
        )
        app.extensions["okta_scim"] = self

        from flask_login import user_logged_in
        from flask_login import user_logged_out

        from .cli import okta_scim_cli
        from .web.scim import bp as scim_blueprint
        from .web.session import forget_sso
        from .web.sso import bp as sso_blueprint

        app.register_blueprint(scim_blueprint, url_prefix=settings.scim_url_prefix)
        app.register_blueprint(sso_blueprint, url_prefix=settings.sso_url_prefix)
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            # Flask-WTF: SCIM clients authenticate with a token, and the IdP's POST to
            # the ACS cannot carry a form token; both are protected otherwise.
            csrf.exempt(scim_blueprint)
            csrf.exempt(sso_blueprint)
        user_logged_in.connect(forget_sso, app)
        user_logged_out.connect(forget_sso, app)
        app.cli.add_command(okta_scim_cli)

    #: The SCIM API's blueprint, for hosts that need to name it (e.g. ``csrf.exempt(...)``).
    @property
    def scim_blueprint(self) -> t.Any:
        from .web.scim import bp

        return bp

    #: The SAML sign-in blueprint (its ACS receives the IdP's cross-site POST).
    @property
    def sso_blueprint(self) -> t.Any:
        from .web.sso import bp

        return bp

    def _current(self) -> _State:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return self._state[app]
        except KeyError:
            raise RuntimeError(
                "The current Flask app is not registered with this 'OktaSCIM' instance."
                " Did you forget to call 'init_app'?"
            ) from None

    @property
    def settings(self) -> Settings:
        """The validated settings of the current application."""
        return self._current().settings

    @property
    def scim_rate_limiter(self) -> RateLimiter:
        """The current application's per-organization SCIM rate limiter."""
        return self._current().scim_rate_limiter

    def directory(self, *, actor: str = "system") -> Directory:
        """Return a :class:`~flask_okta_scim.sqla.Directory` on the host's ``db.session``.

        Must be called inside an application context; signals it sends have
        the current application as sender. ``actor`` is recorded in the
        audit log. Does not open a transaction: use ``.atomic()``.
        """
        settings = self.settings
        return Directory(
            self.db.session,
            self.models,
            sender=current_app._get_current_object(),  # type: ignore[attr-defined]
            actor=actor,
            hash_password=self.hash_password,
            default_role=settings.default_role,
        )
