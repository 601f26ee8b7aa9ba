"""The extension object: registration, configuration, and the host-model seam."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from flask_okta_scim import ConfigError
from flask_okta_scim import OktaSCIM
from flask_okta_scim.sqla import AccountMixin
from flask_okta_scim.sqla import OrganizationMixin
from flask_okta_scim.sqla import TeamMixin
from sample_app.models import db as sample_db
from sample_app.models import okta as sample_okta
from tests.conftest import BASE_URL


def bare_app(**config: t.Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", OKTA_SCIM_BASE_URL=BASE_URL)
    app.config.update(config)
    return app


def test_init_app_registers_the_extension_and_its_defaults():
    app = bare_app()
    sample_okta.init_app(app)
    assert app.extensions["okta_scim"] is sample_okta
    assert app.config["OKTA_SCIM_URL_PREFIX"] == "/scim/v2"
    assert app.config["OKTA_SCIM_SSO_URL_PREFIX"] == "/users/sign-in/sso/okta"
    assert "okta-scim" in app.cli.commands
    with app.app_context():
        assert sample_okta.settings.url("/x") == "https://app.example.test/x"


def test_registering_twice_is_refused():
    app = bare_app()
    sample_okta.init_app(app)
    with pytest.raises(RuntimeError, match="already been registered"):
        sample_okta.init_app(app)


def test_an_unregistered_app_is_named_as_such():
    with bare_app().app_context(), pytest.raises(RuntimeError, match="init_app"):
        sample_okta.settings  # noqa: B018


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("OKTA_SCIM_BASE_URL", "app.example.com", "OKTA_SCIM_BASE_URL must be an absolute"),
        ("OKTA_SCIM_BASE_URL", "ftp://app.example.com", "OKTA_SCIM_BASE_URL must be an absolute"),
        ("OKTA_SCIM_BASE_URL", "https://a.example?x=1", "OKTA_SCIM_BASE_URL must not contain"),
        ("OKTA_SCIM_BASE_URL", "https://u:p@a.example", "OKTA_SCIM_BASE_URL must not contain"),
        ("OKTA_SCIM_BASE_URL", 42, "OKTA_SCIM_BASE_URL must be a string"),
        ("OKTA_SCIM_URL_PREFIX", "scim", "OKTA_SCIM_URL_PREFIX must be a URL path"),
        ("OKTA_SCIM_URL_PREFIX", "/scim/", "OKTA_SCIM_URL_PREFIX must not end"),
        ("OKTA_SCIM_SSO_URL_PREFIX", "//evil", "OKTA_SCIM_SSO_URL_PREFIX must not end"),
        ("OKTA_SCIM_DEFAULT_ROLE", "", "OKTA_SCIM_DEFAULT_ROLE must be a non-empty"),
    ],
)
def test_bad_configuration_names_the_key(key, value, message):
    app = bare_app(**{key: value})
    with pytest.raises(ConfigError, match=message):
        sample_okta.init_app(app)
    assert "okta_scim" not in app.extensions


def test_base_url_is_normalised():
    app = bare_app(OKTA_SCIM_BASE_URL="https://App.example.com/saas/")
    sample_okta.init_app(app)
    with app.app_context():
        assert sample_okta.settings.base_url == "https://App.example.com/saas"


def test_one_extension_serves_several_apps(tmp_path):
    apps = [bare_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / f'{n}.db'}") for n in "ab"]
    for app in apps:
        sample_db.init_app(app)
        sample_okta.init_app(app)
        with app.app_context():
            sample_db.create_all()
    for app, name in zip(apps, ["A", "B"], strict=True):
        with app.app_context(), sample_okta.directory().atomic() as directory:
            directory.create_organization(name)
    for app, name in zip(apps, ["A", "B"], strict=True):
        with app.app_context():
            assert [o.name for o in sample_okta.directory().organizations()] == [name]
            sample_db.engine.dispose()


def test_the_host_arguments_are_required():
    with pytest.raises(TypeError, match="account_model"):
        OktaSCIM(db=sample_db, organization_model=object, team_model=object)


# -- the host-model seam, with a host whose names are not ours --------------------------


class Base(DeclarativeBase):
    pass


host_db = SQLAlchemy(model_class=Base)


class Company(host_db.Model, OrganizationMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "company"


class Person(host_db.Model, AccountMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "person"


class Squad(host_db.Model, TeamMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "squad"
    __okta_organization_table__ = "company"


host_okta = OktaSCIM(
    db=host_db,
    account_model=Person,
    organization_model=Company,
    team_model=Squad,
    table_prefix="sso_",
)


def test_a_host_with_its_own_names_and_prefix(database_url):
    app = bare_app(SQLALCHEMY_DATABASE_URI=database_url)
    host_db.init_app(app)
    host_okta.init_app(app)
    with app.app_context():
        host_db.create_all()
        try:
            assert {"sso_membership", "sso_identity", "sso_audit"} <= set(host_db.metadata.tables)
            with host_okta.directory().atomic() as directory:
                org = directory.create_organization("Initech")
                identity, _ = directory.provision(org, user_name="peter@initech.example")
                squad = directory.create_team(org, "TPS", members=[directory.account_of(identity)])
            assert isinstance(directory.account_of(identity), Person)
            assert [p.email for p in directory.team_members(squad)] == ["peter@initech.example"]
        finally:
            host_db.session.remove()
            host_db.drop_all()
            host_db.engine.dispose()


def test_defining_the_models_twice_returns_the_same_classes():
    again = OktaSCIM(
        db=host_db,
        account_model=Person,
        organization_model=Company,
        team_model=Squad,
        table_prefix="sso_",
    )
    assert again.models is host_okta.models
