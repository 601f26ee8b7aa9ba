"""A small monitoring SaaS that uses Flask-Okta-SCIM: teams own monitors.

Run it with ``flask --app sample_app init-db`` (which runs the migrations in
``sample_app/migrations/``) then ``flask --app sample_app run`` (``make demo`` does both
and adds a demo organization).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import typing as t

import click
from flask import Flask
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event

from . import demo
from . import receivers  # noqa: F401  (connects the signal receivers)
from .models import Account
from .models import db
from .models import okta
from .schema import migrate
from .schema import upgrade_database

login_manager = LoginManager()
login_manager.login_view = "sample.login"
csrf = CSRFProtect()


@login_manager.user_loader
def load_account(account_id: str) -> Account | None:
    return db.session.get(Account, int(account_id))


def is_admin(account: Account, organization: t.Any) -> bool:
    """The sample's rule for the admin console: the organization's members with role "admin"."""
    return okta.directory().member_role(organization, account) == "admin"


def create_app(test_config: dict[str, t.Any] | None = None) -> Flask:
    """Build the sample application.

    Configuration comes from defaults, then ``FLASK_*`` environment variables
    (``from_prefixed_env``), then ``test_config``.
    """
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    port = os.environ.get("FLASK_RUN_PORT", "5000")
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(app.instance_path, "sample_app.sqlite"),
        OKTA_SCIM_BASE_URL=f"http://127.0.0.1:{port}",
        # The admin console renders inside the sample's own page layout.
        OKTA_SCIM_ADMIN_LAYOUT="base.html",
    )
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)

    db.init_app(app)
    migrate.init_app(app)
    okta.init_app(app)
    okta.init_admin(app, may_administer=is_admin)
    login_manager.init_app(app)
    csrf.init_app(app)
    demo.mount(app)  # the simulated Okta, with SAMPLE_SIMULATED_OKTA on (make demo)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_foreign_keys)

    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(init_db)
    app.cli.add_command(seed_demo)
    return app


def _sqlite_foreign_keys(dbapi_connection: t.Any, connection_record: t.Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _instance_secret(instance_path: str) -> str:
    """A random secret key kept in the instance folder, made on first start.

    Written to a file of its own, then linked into place: worker processes that start
    together all read the one secret that was linked first, never an empty file.
    """
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd, written = tempfile.mkstemp(dir=instance_path)  # mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            os.link(written, path)
        except FileExistsError:
            pass  # another process linked its secret first: that one is used
        finally:
            os.unlink(written)
    with open(path) as f:
        return f.read().strip()


@click.command("init-db")
def init_db() -> None:
    """Create or upgrade the sample app's tables (and the extension's): run the migrations.

    The same as ``flask db upgrade``, except that a database made by ``db.create_all()``
    (before there were migrations) is marked as up to date when it matches the models.
    """
    try:
        done = upgrade_database()
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"Initialised the database. {done}", err=True)


DEMO_ORGANIZATION = "Demo Organization"
DEMO_ADMIN = "admin@demo.example"
DEMO_PASSWORD = "demo-password"


@click.command("seed-demo")
def seed_demo() -> None:
    """Add a demo organization with an admin, two teams and some monitors (once)."""
    from .models import Monitor

    with okta.directory(actor="seed-demo").atomic() as directory:
        existing = [o for o in directory.organizations() if o.name == DEMO_ORGANIZATION]
        if existing:
            console = okta.settings.admin_url_prefix + f"/{existing[0].id}/sso"
            click.echo(
                f"{DEMO_ORGANIZATION!r} exists already. Its Okta settings: {console}", err=True
            )
            return
        org = directory.create_organization(DEMO_ORGANIZATION)
        admin, _ = directory.ensure_account(DEMO_ADMIN, "Demo Admin")
        admin.set_password(DEMO_PASSWORD)
        directory.add_member(org, admin, role="admin")
        operations = directory.create_team(org, "Operations", members=[admin])
        directory.add_team_domain(operations, "demo.example")
        platform = directory.create_team(org, "Platform")
        for team, name, url in (
            (operations, "Homepage", "https://www.demo.example/"),
            (operations, "Status page", "https://status.demo.example/"),
            (platform, "API health", "https://api.demo.example/health"),
        ):
            db.session.add(Monitor(team_id=team.id, name=name, url=url, created_by_id=admin.id))
    admin_console = okta.settings.admin_url_prefix + f"/{org.id}/sso"
    click.echo(
        f"Created {DEMO_ORGANIZATION!r} (id {org.id}); sign in as {DEMO_ADMIN} "
        f"with the password {DEMO_PASSWORD!r}. Its Okta settings: {admin_console}",
        err=True,
    )
    token = demo.connect(org, DEMO_ADMIN)
    if token is not None:
        settings = okta.settings
        with okta.directory().atomic() as directory:
            integration_id = directory.get_connection(org).integration_id
        simulate = f"{demo.flask_command()} okta-scim simulate %s --org {org.id} --token {token}"
        click.echo(
            "It is connected to the simulated Okta, with provisioning on. Try:\n"
            f"  1. Sign in through 'Okta': {settings.url(settings.sso_url_prefix)}/"
            f"{integration_id} (choose new.person@demo.example: just-in-time into Operations;"
            f" or the Okta dashboard tile: {settings.base_url}/simulated-okta/tile/"
            f"{integration_id})\n"
            "  2. Let Okta provision fifty people and push three groups, then watch the teams "
            f"appear in the admin console ({settings.url(settings.admin_url_prefix)}/{org.id}"
            "/teams, signed in as the admin):\n"
            f"     {simulate % 'onboarding'}\n"
            "  3. Offboard: finance4 leaves (deactivated in Okta) and is detached at once; "
            "sign in as finance4@demo.example to see the refusal:\n"
            f"     {simulate % 'offboarding'}\n"
            "  4. A mistaken mass unassignment: sixty deactivations at once; the guard holds "
            "all but the first twenty, listed under Held changes on the Provisioning screen:\n"
            f"     {simulate % 'mass-unassign'}\n"
            "  Other scenarios: reorg, mistaken-unlink (add --mode okta-put or entra for those "
            f"clients' forms). The SCIM token {token} is shown once; the SCIM base URL is "
            f"{settings.url(settings.scim_url_prefix)}",
            err=True,
        )
