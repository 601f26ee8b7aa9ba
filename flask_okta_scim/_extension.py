"""The Flask extension object."""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from weakref import WeakKeyDictionary

from flask import Flask
from flask import current_app
from flask import request
from flask_login import user_logged_in
from flask_login import user_logged_out

from .cli import okta_scim_cli
from .config import DEFAULTS
from .config import Settings
from .config import load_settings
from .logs import log
from .passwords import hash_password as default_hash_password
from .saml.keys import KeyVault
from .sqla.directory import Directory
from .sqla.models import Models
from .sqla.models import define_models
from .web.link import bp as link_blueprint
from .web.scim import bp as scim_blueprint
from .web.scim_guard import RateLimiter
from .web.session import check_session
from .web.session import on_login
from .web.session import on_logout
from .web.slo import single_logout as single_logout  # registers the SLO URL on the blueprint
from .web.sso import bp as sso_blueprint
from .web.sso_guard import SignInBudgets
from .web.sso_guard import guard_request


@dataclass(frozen=True)
class _State:
    """What the extension keeps for one application."""

    settings: Settings
    scim_rate_limiter: RateLimiter
    sign_in_budgets: SignInBudgets


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
    :param membership_model: the host's own model of who belongs to which
        organization, with which role (``organization_id``, ``account_id``,
        ``role``, unique per pair); by default the extension keeps its own table.
    :param team_member_model: the host's own model of who belongs to which team
        (``team_id``, ``account_id``, unique per pair); by default the extension's.
    :param table_prefix: prefix of the extension's own table names.
    :param hash_password: turns a password synced by Okta into the stored
        hash; by default a salted scrypt hash.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: t.Any,
        account_model: t.Any,
        organization_model: t.Any,
        team_model: t.Any,
        membership_model: t.Any = None,
        team_member_model: t.Any = None,
        table_prefix: str = "okta_scim_",
        hash_password: Callable[[str], str] = default_hash_password,
    ) -> None:
        self.db = db
        #: The host's models and the extension's own (:class:`~flask_okta_scim.sqla.Models`).
        self.models: Models = define_models(
            db.Model,
            account=account_model,
            organization=organization_model,
            team=team_model,
            membership=membership_model,
            team_member=team_member_model,
            table_prefix=table_prefix,
        )
        self.hash_password = hash_password
        self._administrators: WeakKeyDictionary[Flask, Callable[[t.Any, t.Any], bool]] = (
            WeakKeyDictionary()
        )
        self._state: WeakKeyDictionary[Flask, _State] = WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the extension on ``app``.

        Sets the defaults of every ``OKTA_SCIM_*`` key that ``app.config``
        lacks, validates them all once (a :class:`~flask_okta_scim.config.ConfigError`
        names the faulty key; an absent ``OKTA_SCIM_BASE_URL`` is not an error here,
        but sign-in and SCIM requests answer 503 until it is set), registers the SCIM
        and sign-in blueprints and adds the ``flask okta-scim`` commands. Does not
        create any table.
        """
        if "okta_scim" in app.extensions:
            raise RuntimeError(
                "An 'OktaSCIM' instance has already been registered on this Flask app."
                " Import and use that instance instead."
            )
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        settings = load_settings(app.config)
        if not settings.cross_site_cookies_possible:
            log(
                "config.insecure_base_url",
                logging.WARNING,
                "OKTA_SCIM_BASE_URL %s is not https: browsers will not send the sign-in "
                "cookie with Okta's cross-site POST, so SP-initiated sign-in will fail.",
                settings.configured_base_url,
                base_url=settings.configured_base_url,
            )
        self._state[app] = _State(
            settings=settings,
            scim_rate_limiter=RateLimiter(settings.rate_limit, settings.rate_limit_storage),
            sign_in_budgets=SignInBudgets.from_settings(settings),
        )
        app.extensions["okta_scim"] = self
        app.register_blueprint(scim_blueprint, url_prefix=settings.scim_url_prefix)
        app.register_blueprint(sso_blueprint, url_prefix=settings.sso_url_prefix)
        app.register_blueprint(link_blueprint, url_prefix=settings.sso_url_prefix)
        # First among the app's before-request functions, whenever Flask-WTF is set up.
        app.before_request_funcs.setdefault(None, []).insert(0, _exempt_from_csrf)
        # Before anything (the host's own hooks included) can read a sign-in form.
        app.before_request_funcs[None].insert(0, guard_request)
        app.before_request(check_session)
        user_logged_in.connect(on_login, app)
        user_logged_out.connect(on_logout, app)
        app.cli.add_command(okta_scim_cli)

    def init_admin(self, app: Flask, *, may_administer: Callable[[t.Any, t.Any], bool]) -> None:
        """Mount the customer admin's console on ``app`` (call it after :meth:`init_app`).

        ``may_administer(account, organization)`` is the host's decision of who
        administers which organization (an ``admin`` role, an owner flag...);
        the console also requires that the session may act in the
        organization (:func:`~flask_okta_scim.may_act_in`). Pages are under
        ``OKTA_SCIM_ADMIN_URL_PREFIX``; see docs/admin-console.rst. Needs
        Flask-Login for the signed-in account and uses Flask-WTF's CSRF tokens.
        """
        from .web.admin import bp as admin_blueprint

        if app not in self._state:
            raise RuntimeError("Call 'init_app(app)' before 'init_admin(app, ...)'.")
        self._administrators[app] = may_administer
        app.register_blueprint(
            admin_blueprint, url_prefix=self._state[app].settings.admin_url_prefix
        )

    @property
    def may_administer(self) -> Callable[[t.Any, t.Any], bool] | None:
        """The current application's ``may_administer`` (:meth:`init_admin`), or ``None``."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        return self._administrators.get(app)

    #: The SCIM API's blueprint, for hosts that need to name it (e.g. ``csrf.exempt(...)``).
    @property
    def scim_blueprint(self) -> t.Any:
        return scim_blueprint

    #: The SAML sign-in blueprint (its ACS receives the IdP's cross-site POST).
    @property
    def sso_blueprint(self) -> t.Any:
        return sso_blueprint

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

    @property
    def sign_in_budgets(self) -> SignInBudgets:
        """The current application's budgets for refused and started sign-ins."""
        return self._current().sign_in_budgets

    def sp_key_vault(self) -> KeyVault:
        """What seals and opens the SP's private keys.

        Made of ``OKTA_SCIM_SP_KEY_SECRETS``, else of ``SECRET_KEY``.

        Raises :class:`RuntimeError` when neither is set.
        """
        secrets: list[str | bytes] = list(self.settings.sp_key_secrets)
        if not secrets:
            key = current_app.secret_key
            if not key:
                raise RuntimeError(
                    "SP key pairs are sealed with OKTA_SCIM_SP_KEY_SECRETS (or SECRET_KEY): "
                    "set one of them."
                )
            secrets = [key]
        return KeyVault(secrets)

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
            account_removal=settings.account_removal,
            team_deletion=settings.team_deletion,
            team_quarantine=timedelta(days=settings.team_quarantine_days),
            guard=settings.guard,
        )


def _exempt_from_csrf() -> None:
    """Exempt the SCIM API and the ACS from Flask-WTF's CSRF check, if the host uses it.

    SCIM clients authenticate with a bearer token, and the IdP's cross-site POST
    to the ACS cannot carry a form token; both are protected otherwise, and the
    account-link confirmation carries a token of its own. This
    runs before Flask-WTF's own check (it is inserted first among the app's
    before-request functions), so it works whether the host set up
    ``CSRFProtect`` before or after :meth:`OktaSCIM.init_app`. Does nothing
    for the host's own views.
    """
    csrf = current_app.extensions.get("csrf")
    ours = (scim_blueprint, sso_blueprint, link_blueprint)
    if csrf is not None and request.blueprint in [b.name for b in ours]:
        for blueprint in ours:
            csrf.exempt(blueprint)
