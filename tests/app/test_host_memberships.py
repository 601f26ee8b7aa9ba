"""The host's own membership and team-member models: checked at start-up, then the one source of
truth the directory reads and writes (issue 11, part 1). The end-to-end proof, over SSO and SCIM
on an existing schema with Alembic, is tests/legacy_host/."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.orm import mapped_column

from flask_okta_scim import ModelMappingError
from flask_okta_scim import OktaSCIM
from flask_okta_scim import signals
from tests.app.test_model_mapping import _models
from tests.conftest import listen


def _links(
    drop: tuple[str, str] | None = None, **override: dict[str, t.Any]
) -> dict[str, dict[str, t.Any]]:
    """A membership ("Seat") and a team-member ("Crewing") model, columns renamed."""
    attributes: dict[str, dict[str, t.Any]] = {
        "membership": {
            "__tablename__": "seats",
            "__table_args__": (UniqueConstraint("company_ref", "person_ref"),),
            "id": mapped_column(Integer, primary_key=True),
            "organization_id": mapped_column(
                "company_ref", ForeignKey("companies.company_id", ondelete="CASCADE")
            ),
            "account_id": mapped_column("person_ref", ForeignKey("people.id", ondelete="CASCADE")),
            "role": mapped_column("seat_kind", String(50), default="member"),
        },
        "team_member": {
            "__tablename__": "crewings",
            "team_id": mapped_column(
                "crew_ref", ForeignKey("crews.id", ondelete="CASCADE"), primary_key=True
            ),
            "account_id": mapped_column(
                "person_ref", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
            ),
        },
    }
    if drop is not None:
        del attributes[drop[0]][drop[1]]
        attributes[drop[0]].pop("__table_args__", None)  # it names the dropped column
    for role, values in override.items():
        attributes[role].update(values)
    return attributes


def _host(
    drop: tuple[str, str] | None = None,
    account: dict[str, t.Any] | None = None,
    **override: dict[str, t.Any],
) -> tuple[SQLAlchemy, OktaSCIM]:
    db, models = _models(**({"account": account} if account else {}))
    links = _links(drop, **override)
    seat = type("Seat", (db.Model,), links["membership"])
    crewing = type("Crewing", (db.Model,), links["team_member"])
    okta = OktaSCIM(
        db=db,
        account_model=models["account"],
        organization_model=models["organization"],
        team_model=models["team"],
        membership_model=seat,
        team_member_model=crewing,
    )
    return db, okta


def test_the_host_models_replace_the_extension_tables():
    db, okta = _host()
    assert okta.models.membership.__tablename__ == "seats"
    assert okta.models.team_member.__tablename__ == "crewings"
    tables = set(db.metadata.tables)
    assert {"seats", "crewings"} <= tables
    assert not {"okta_scim_membership", "okta_scim_team_member"} & tables
    assert not {"seats", "crewings"} & okta.models.own_tables
    assert {"seats", "crewings"} <= okta.models.written_tables


@pytest.mark.parametrize(
    ("role", "attribute", "model"),
    [
        ("membership", "organization_id", "Seat"),
        ("membership", "account_id", "Seat"),
        ("membership", "role", "Seat"),
        ("team_member", "team_id", "Crewing"),
        ("team_member", "account_id", "Crewing"),
    ],
)
def test_a_missing_attribute_of_a_host_membership_model_is_named(role, attribute, model):
    with pytest.raises(ModelMappingError) as raised:
        _host(drop=(role, attribute), team_member={"id": mapped_column(Integer, primary_key=True)})
    message = str(raised.value)
    assert message.startswith(f"{model}.{attribute} does not exist"), message
    assert f"{attribute}: Mapped[" in message


def test_a_membership_without_a_unique_pair_is_refused_with_the_fix():
    with pytest.raises(ModelMappingError) as raised:
        _host(membership={"__table_args__": ()})
    assert str(raised.value).startswith(
        "Seat has no primary key or unique constraint on ('company_ref', 'person_ref')"
    )
    assert "UniqueConstraint('company_ref', 'person_ref')" in str(raised.value)


def test_a_unique_index_on_the_pair_is_enough():
    _, okta = _host(
        membership={
            "__table_args__": (Index("ix_seat_pair", "person_ref", "company_ref", unique=True),)
        }
    )
    assert okta.models.membership.__tablename__ == "seats"


def test_a_key_on_more_columns_than_the_pair_is_not_enough():
    with pytest.raises(ModelMappingError, match="no primary key or unique constraint"):
        _host(
            team_member={
                "id": mapped_column(Integer, primary_key=True),
                "team_id": mapped_column("crew_ref", ForeignKey("crews.id")),
                "account_id": mapped_column("person_ref", ForeignKey("people.id")),
                "__table_args__": (UniqueConstraint("crew_ref", "person_ref", "id"),),
            }
        )


def test_optional_attributes_are_checked_when_present():
    with pytest.raises(ModelMappingError, match=r"Seat\.joined_via .* is INTEGER"):
        _host(membership={"joined_via": mapped_column(Integer)})
    with pytest.raises(ModelMappingError, match=r"Person\.disabled_at .* a date-time column"):
        _host(account={"disabled_at": mapped_column(String(30))})
    _, okta = _host(
        membership={"joined_via": mapped_column("source", String(20))},
        account={"disabled_at": mapped_column("gone_since", DateTime(timezone=True))},
    )
    assert okta.models.host_attributes == {("membership", "joined_via"), ("account", "disabled_at")}


# -- the directory on the host's tables --------------------------------------------------------


@pytest.fixture
def host(tmp_path: t.Any) -> Iterator[tuple[Flask, SQLAlchemy, OktaSCIM]]:
    db, okta = _host(account={"disabled_at": mapped_column("gone_since", DateTime(timezone=True))})
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.sqlite'}",
        OKTA_SCIM_BASE_URL="https://app.example.com",
        SECRET_KEY="x",
    )
    db.init_app(app)
    okta.init_app(app)
    with app.app_context():
        db.create_all()
        yield app, db, okta


def rows(db: SQLAlchemy, sql: str) -> list[tuple[t.Any, ...]]:
    return [tuple(row) for row in db.session.execute(text(sql))]


def test_memberships_live_in_the_host_tables(host):
    _, db, okta = host
    with okta.directory().atomic() as directory:
        org = directory.create_organization("Acme")
        ann, _ = directory.ensure_account("ann@acme.example")
        directory.add_member(org, ann, role="owner")
        team = directory.create_team(org, "Ops", members=[ann])
        directory.set_role(org, ann, "admin")
    assert rows(db, "SELECT company_ref, person_ref, seat_kind FROM seats") == [
        (org.id, ann.id, "admin")
    ]
    assert rows(db, "SELECT crew_ref, person_ref FROM crewings") == [(team.id, ann.id)]
    # The host's own writes are what the directory reads: one source of truth.
    db.session.execute(text("DELETE FROM crewings"))
    db.session.commit()
    assert okta.directory().team_members(team) == []


def test_removal_writes_the_host_disabled_column_and_reactivation_clears_it(host):
    _, db, okta = host
    with okta.directory().atomic() as directory:
        org = directory.create_organization("Acme")
        identity, _ = directory.provision(org, user_name="bo@acme.example")
        account_id = identity.account_id
    with listen(signals.user_disabled) as disabled, okta.directory().atomic() as directory:
        directory.deactivate(identity)
    assert len(disabled) == 1
    (gone_since,) = rows(db, f"SELECT gone_since FROM people WHERE id = {account_id}")[0]
    assert gone_since is not None
    assert rows(db, "SELECT * FROM seats") == []
    with okta.directory().atomic() as directory:
        directory.update_identity(directory.get_identity(org, identity.id), active=True)
    assert rows(db, f"SELECT gone_since FROM people WHERE id = {account_id}") == [(None,)]
    assert rows(db, "SELECT person_ref, seat_kind FROM seats") == [(account_id, "member")]
