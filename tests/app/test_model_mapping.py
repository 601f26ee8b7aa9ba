"""Host models whose columns have other names, and the start-up check of what the extension needs.

Issue 11: ``email = mapped_column("email_address", ...)`` used to crash at import
with a bare ``AttributeError: email``; the extension refers to the host's columns
by mapped attribute, so it now works, and a model that lacks an attribute fails
when :class:`OktaSCIM` is created, with a message naming the model, the attribute
and the fix.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from flask_okta_scim import ModelMappingError
from flask_okta_scim import OktaSCIM
from flask_okta_scim.sqla import AccountMixin
from flask_okta_scim.sqla import OrganizationMixin
from flask_okta_scim.sqla import TeamMixin
from flask_okta_scim.sqla.mixins import utcnow
from tests.conftest import BASE_URL
from tests.conftest import ScimClient
from tests.conftest import okta_cli_ok
from tests.conftest import user_body

# -- a legacy host: other table names, and every column the mixins declare renamed -------------


class LegacyBase(DeclarativeBase):
    pass


legacy_db = SQLAlchemy(model_class=LegacyBase)


class Tenant(legacy_db.Model, OrganizationMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column("tenant_id", primary_key=True)
    name: Mapped[str] = mapped_column("tenant_name", String(200))
    created_at: Mapped[datetime] = mapped_column(
        "founded_at", DateTime(timezone=True), default=utcnow
    )


class User(legacy_db.Model, AccountMixin, UserMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id: Mapped[int] = mapped_column("user_id", primary_key=True)
    email: Mapped[str] = mapped_column("email_address", String(320))
    display_name: Mapped[str | None] = mapped_column("full_name", String(200))
    password_hash: Mapped[str | None] = mapped_column("pw_hash", String(255))
    created_at: Mapped[datetime] = mapped_column(
        "joined_at", DateTime(timezone=True), default=utcnow
    )


class Workgroup(legacy_db.Model, TeamMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "workgroups"
    id: Mapped[int] = mapped_column("workgroup_id", primary_key=True)
    name: Mapped[str] = mapped_column("title", String(200))
    organization_id: Mapped[int] = mapped_column(
        "tenant_ref", ForeignKey("tenants.tenant_id", ondelete="CASCADE"), index=True
    )


legacy_okta = OktaSCIM(
    db=legacy_db,
    account_model=User,
    organization_model=Tenant,
    team_model=Workgroup,
    table_prefix="legacy_",
)


@pytest.fixture
def legacy_app(database_url: str) -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="test secret",
        SQLALCHEMY_DATABASE_URI=database_url,
        OKTA_SCIM_BASE_URL=BASE_URL,
    )
    legacy_db.init_app(app)
    legacy_okta.init_app(app)
    logins = LoginManager(app)
    logins.user_loader(lambda user_id: legacy_db.session.get(User, int(user_id)))
    with app.app_context():
        legacy_db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            legacy_db.session.remove()
            legacy_db.drop_all()
            legacy_db.engine.dispose()


def test_the_extension_refers_to_renamed_columns():
    m = legacy_okta.models
    membership = m.membership.__table__
    targets = {fk.target_fullname for c in membership.c for fk in c.foreign_keys}
    assert targets == {"tenants.tenant_id", "users.user_id"}
    group = m.group.__table__
    assert {fk.target_fullname for fk in group.c.team_id.foreign_keys} == {
        "workgroups.workgroup_id"
    }
    (index,) = [i for i in User.__table__.indexes if i.name == "uq_users_email_lower"]
    assert "email_address" in str(index.expressions[0])


def test_renamed_columns_work_through_the_directory(legacy_app):
    with legacy_app.app_context():
        with legacy_okta.directory().atomic() as directory:
            tenant = directory.create_organization("Initech")
            peter, _ = directory.ensure_account("Peter@Initech.example", "Peter Gibbons")
            directory.add_member(tenant, peter, role="admin")
            tps = directory.create_team(tenant, "TPS", members=[peter])
            directory.add_team_domain(tps, "initech.example")
        assert isinstance(peter, User) and isinstance(tps, Workgroup)
        assert [u.email for u in directory.team_members(tps)] == ["Peter@initech.example"]
        row = legacy_db.session.execute(
            text("SELECT email_address, full_name FROM users WHERE user_id = :id"), {"id": peter.id}
        ).one()
        assert tuple(row) == ("Peter@initech.example", "Peter Gibbons")
        title = legacy_db.session.execute(
            text("SELECT title, tenant_ref FROM workgroups WHERE workgroup_id = :id"),
            {"id": tps.id},
        ).one()
        assert tuple(title) == ("TPS", tenant.id)
    shown = json.loads(okta_cli_ok(legacy_app, "user", "show", "peter@initech.example"))
    assert shown["organizations"][0]["teams"] == [{"id": str(tps.id), "name": "TPS"}]


def test_case_insensitive_email_index_holds_on_the_renamed_column(legacy_app):
    with legacy_app.app_context():
        legacy_db.session.add(User(email="ann@acme.example"))
        legacy_db.session.commit()
        legacy_db.session.add(User(email="ANN@acme.example"))
        with pytest.raises(Exception, match=r"(?i)unique"):
            legacy_db.session.commit()
        legacy_db.session.rollback()


def test_scim_provisioning_over_http_on_renamed_columns(legacy_app):
    with legacy_app.app_context(), legacy_okta.directory().atomic() as directory:
        tenant = directory.create_organization("Initech")
        directory.mark_connected(directory.connect(tenant))
        token = directory.enable_provisioning(tenant)
        tenant_id = tenant.id
    scim = ScimClient(legacy_app, token)
    created = scim.post("/Users", user_body("milton@initech.example"))
    assert created.status_code == 201, created.get_data(as_text=True)
    user_id = created.get_json()["id"]
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Basement",
            "members": [{"value": user_id}],
        },
    )
    assert group.status_code == 201, group.get_data(as_text=True)
    found = scim.get('/Users?filter=userName eq "milton@initech.example"').get_json()
    assert found["totalResults"] == 1
    with legacy_app.app_context():
        milton = legacy_db.session.scalars(
            select(User).where(User.email == "milton@initech.example")
        ).one()
        assert milton.display_name == "Milton Tester"
        assert milton.check_password("1mz050nq")
        basement = legacy_db.session.scalars(select(Workgroup)).one()
        assert basement.name == "Basement" and basement.organization_id == tenant_id
        members = legacy_okta.directory().team_members(basement)
        assert [u.email for u in members] == ["milton@initech.example"]


# -- what the check reports --------------------------------------------------------------------


def _models(
    drop: tuple[str, str] | None = None, **override: dict[str, t.Any]
) -> tuple[SQLAlchemy, dict[str, type[t.Any]]]:
    """Plain models (no mixins) on a fresh base, without ``drop`` = (role, attribute)."""

    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)
    attributes: dict[str, dict[str, t.Any]] = {
        "organization": {
            "__tablename__": "companies",
            "id": mapped_column("company_id", Integer, primary_key=True),
            "name": mapped_column(String(200)),
        },
        "account": {
            "__tablename__": "people",
            "id": mapped_column(Integer, primary_key=True),
            "email": mapped_column(String(320)),
            "display_name": mapped_column(String(200), nullable=True),
            "password_hash": mapped_column(String(255), nullable=True),
        },
        "team": {
            "__tablename__": "crews",
            "id": mapped_column(Integer, primary_key=True),
            "name": mapped_column(String(200)),
            "organization_id": mapped_column(ForeignKey("companies.company_id")),
        },
    }
    if drop is not None:
        role, attribute = drop
        del attributes[role][attribute]
        if attribute == "id":
            attributes[role]["key"] = mapped_column(Integer, primary_key=True)
    for role, values in override.items():
        attributes[role].update(values)
    names = {"organization": "Company", "account": "Person", "team": "Crew"}
    models = {role: type(names[role], (db.Model,), attributes[role]) for role in names}
    return db, models


def _okta(db: SQLAlchemy, models: dict[str, type[t.Any]]) -> OktaSCIM:
    return OktaSCIM(
        db=db,
        account_model=models["account"],
        organization_model=models["organization"],
        team_model=models["team"],
    )


def test_plain_models_without_the_mixins_pass_the_check():
    db, models = _models()
    okta = _okta(db, models)
    assert okta.models.team is models["team"]


NEEDED = [
    ("account", "Person", "id", "primary_key=True"),
    ("account", "Person", "email", "email: Mapped[str] = mapped_column('email', String(320))"),
    ("account", "Person", "display_name", "display_name: Mapped[str | None] = mapped_column("),
    ("account", "Person", "password_hash", "password_hash: Mapped[str | None] = mapped_column("),
    ("organization", "Company", "id", "id: Mapped[int] = mapped_column('id', primary_key=True)"),
    ("organization", "Company", "name", "name: Mapped[str] = mapped_column('name', String(200))"),
    ("team", "Crew", "id", "primary_key=True"),
    ("team", "Crew", "name", "name: Mapped[str] = mapped_column('name', String(200))"),
    (
        "team",
        "Crew",
        "organization_id",
        "mapped_column('organization_id', ForeignKey('companies.company_id'))",
    ),
]


@pytest.mark.parametrize(("role", "model", "attribute", "fix"), NEEDED)
def test_a_missing_attribute_names_the_model_the_attribute_and_the_fix(role, model, attribute, fix):
    db, models = _models(drop=(role, attribute))
    with pytest.raises(ModelMappingError) as raised:
        _okta(db, models)
    message = str(raised.value)
    assert message.startswith(f"{model}.{attribute} does not exist"), message
    assert f"`{fix}" in message or fix in message, message
    assert isinstance(raised.value, TypeError)


def test_the_original_mistake_names_the_column_to_map():
    """A hybrid over the renamed column is not a column: the message shows how to map it."""
    email_address = mapped_column("email_address", String(320))
    db, models = _models(
        drop=("account", "email"),
        account={
            "email_address": email_address,
            "email": hybrid_property(lambda self: self.email_address),
        },
    )
    with pytest.raises(ModelMappingError, match=r"Person\.email is a hybrid_property") as raised:
        _okta(db, models)
    assert "mapped_column('email', String(320))" in str(raised.value)


def test_an_attribute_mapped_to_something_else_than_a_column():
    db, models = _models(account={"email": "not a column"})
    with pytest.raises(ModelMappingError, match=r"Person\.email is a str, not mapped"):
        _okta(db, models)


def test_a_non_integer_id_is_refused():
    db, models = _models(organization={"id": mapped_column("uuid", String(36), primary_key=True)})
    with pytest.raises(ModelMappingError) as raised:
        _okta(db, models)
    message = str(raised.value)
    assert message.startswith("Company.id (column companies.uuid, VARCHAR(36)) must be")
    assert "integer" in message and "mapped_column('uuid', primary_key=True)" in message


def test_a_string_column_of_another_type_is_refused():
    db, models = _models(team={"name": mapped_column("label", Integer)})
    with pytest.raises(ModelMappingError, match=r"Crew\.name \(column crews\.label\) is INTEGER"):
        _okta(db, models)


def test_a_team_pointing_at_another_organization_table_names_the_fix():
    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)

    class Company(db.Model, OrganizationMixin):  # type: ignore[name-defined,misc]
        __tablename__ = "company"

    class Person(db.Model, AccountMixin):  # type: ignore[name-defined,misc]
        __tablename__ = "person"

    class Squad(db.Model, TeamMixin):  # type: ignore[name-defined,misc]
        __tablename__ = "squad"  # __okta_organization_table__ forgotten

    with pytest.raises(ModelMappingError) as raised:
        OktaSCIM(db=db, account_model=Person, organization_model=Company, team_model=Squad)
    assert str(raised.value) == (
        "Squad.organization_id refers to organization.id, not to the organization's id "
        "column company.id: set `__okta_organization_table__ = 'company'` on Squad."
    )


def test_something_that_is_not_a_model_is_named():
    db, models = _models()
    with pytest.raises(ModelMappingError, match=r"team_model=<class 'object'> is not a mapped"):
        OktaSCIM(
            db=db,
            account_model=models["account"],
            organization_model=models["organization"],
            team_model=object,
        )


def test_the_mixins_map_every_needed_attribute_to_a_column():
    for model in (User, Tenant, Workgroup):
        assert "id" in inspect(model).columns


def test_a_synonym_keeps_the_host_old_attribute_name():
    """docs/models.rst: ``email_address = synonym("email")`` next to the renamed attribute."""
    from sqlalchemy.orm import synonym

    db, models = _models(account={"email_address": synonym("email")})
    okta = _okta(db, models)
    person = okta.models.account
    assert str(select(person).where(person.email_address == "x")) == str(
        select(person).where(person.email == "x")
    )
    assert person(email="a@b.example").email_address == "a@b.example"
