"""What the extension needs of the host's models, checked once, when the models are defined.

The extension reads and writes the host's account, organization and team
models through their Python attribute names (``Account.email``), never through
column names, so a host maps its own columns as it likes::

    class Account(db.Model, AccountMixin):
        __tablename__ = "users"
        email: Mapped[str] = mapped_column("email_address", String(320))

:func:`host_columns` checks that every attribute the extension uses is mapped
to a table column of a usable type, and raises :class:`ModelMappingError`
naming the model, the attribute and the fix when one is not.
"""

from __future__ import annotations

import typing as t
from inspect import getattr_static

from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import inspect
from sqlalchemy.orm import ColumnProperty
from sqlalchemy.orm import Mapper
from sqlalchemy.types import NullType


class ModelMappingError(TypeError):
    """A host model lacks an attribute the extension needs, or maps it unusably.

    Raised by :class:`~flask_okta_scim.OktaSCIM` (through
    :func:`~flask_okta_scim.sqla.define_models`) when it is created, so a
    mapping mistake stops the application at start-up rather than on the
    first sign-in.
    """


class _Need(t.NamedTuple):
    attribute: str
    type_: type[t.Any]
    #: The declaration to suggest; ``{column}`` is the host's column name, quoted.
    example: str


def _string(attribute: str, py: str, length: int) -> _Need:
    return _Need(
        attribute,
        String,
        f"{attribute}: Mapped[{py}] = mapped_column({{column}}, String({length}))",
    )


_NEEDS: dict[str, tuple[_Need, ...]] = {
    "account": (
        _string("email", "str", 320),
        _string("display_name", "str | None", 200),
        _string("password_hash", "str | None", 255),
    ),
    "organization": (_string("name", "str", 200),),
    "team": (
        _string("name", "str", 200),
        _Need(
            "organization_id",
            Integer,
            "organization_id: Mapped[int] = mapped_column({column}, ForeignKey({target}))",
        ),
    ),
}


def _int(attribute: str, refers_to: str) -> _Need:
    return _Need(
        attribute,
        Integer,
        f"{attribute}: Mapped[int] = mapped_column({{column}}, ForeignKey(<{refers_to} id>))",
    )


_ID_EXAMPLE = "id: Mapped[int] = mapped_column({column}, primary_key=True)"


#: The host's own membership tables, when it brings them: the attributes the extension
#: reads and writes, and the pair that must be unique (a primary key or unique constraint).
_LINK_NEEDS: dict[str, tuple[tuple[_Need, ...], tuple[str, str]]] = {
    "membership": (
        (
            _int("organization_id", "organization"),
            _int("account_id", "account"),
            _string("role", "str", 50),
        ),
        ("organization_id", "account_id"),
    ),
    "team_member": (
        (_int("team_id", "team"), _int("account_id", "account")),
        ("team_id", "account_id"),
    ),
}

#: Attributes the extension uses when the host maps them, and checks when it does.
_OPTIONAL: dict[str, tuple[_Need, ...]] = {
    "account": (
        _Need(
            "disabled_at",
            DateTime,
            "disabled_at: Mapped[datetime | None] = mapped_column({column}, "
            "DateTime(timezone=True))",
        ),
    ),
    "membership": (_string("joined_via", "str", 20),),
}


class HostColumns(t.NamedTuple):
    """The columns of the host's tables that the extension's own tables refer to."""

    account_id: Column[t.Any]
    account_email: Column[t.Any]
    organization_id: Column[t.Any]
    team_id: Column[t.Any]
    #: The optional attributes the host maps, as ``{(role, attribute), ...}``.
    optional: frozenset[tuple[str, str]]


def host_columns(
    *,
    account: t.Any,
    organization: t.Any,
    team: t.Any,
    membership: t.Any = None,
    team_member: t.Any = None,
) -> HostColumns:
    """Check the host's models; return the columns the extension's tables refer to.

    Each of the three main models needs an integer, single-column primary key
    mapped as ``id``; the account ``email``, ``display_name`` and
    ``password_hash``, the organization ``name``, the team ``name`` and
    ``organization_id`` (an integer; if it has a foreign key, to the
    organization's ``id`` column), each mapped to a string column unless said
    otherwise. A host membership model (optional) maps ``organization_id``,
    ``account_id`` and ``role``, unique per (organization, account); a host
    team-member model maps ``team_id`` and ``account_id``, unique per pair.
    Optional attributes (the account's ``disabled_at``, the membership's
    ``joined_via``) are checked only when present. Column names do not matter.

    Raises :class:`ModelMappingError` for the first problem found; does not
    look at the database, so a column or constraint missing from an existing
    table is not noticed here.
    """
    mappers = {
        "account": _mapper(account, "account_model"),
        "organization": _mapper(organization, "organization_model"),
        "team": _mapper(team, "team_model"),
    }
    links = {
        role: _mapper(model, f"{role}_model")
        for role, model in (("membership", membership), ("team_member", team_member))
        if model is not None
    }
    ids = {role: _primary_key(mapper) for role, mapper in mappers.items()}
    org_id = ids["organization"]
    target = f"{org_id.table.fullname}.{org_id.name}"
    found: dict[tuple[str, str], Column[t.Any]] = {}
    for role, needs in _NEEDS.items():
        for need in needs:
            found[role, need.attribute] = _column(mappers[role], need, target)
    _check_organization_reference(mappers["team"], found["team", "organization_id"], org_id)
    for role, mapper in links.items():
        needs, unique = _LINK_NEEDS[role]
        columns = {need.attribute: _column(mapper, need, target) for need in needs}
        _check_unique(mapper, [columns[name] for name in unique], unique)
    optional = set()
    for role, needs in _OPTIONAL.items():
        model = {**mappers, **links}.get(role)
        for need in needs:
            if model is not None and hasattr(model.class_, need.attribute):
                _column(model, need, target)
                optional.add((role, need.attribute))
    return HostColumns(
        account_id=ids["account"],
        account_email=found["account", "email"],
        organization_id=org_id,
        team_id=ids["team"],
        optional=frozenset(optional),
    )


def _mapper(model: t.Any, argument: str) -> Mapper[t.Any]:
    mapper = inspect(model, raiseerr=False) if isinstance(model, type) else None
    if not isinstance(mapper, Mapper):
        raise ModelMappingError(
            f"{argument}={model!r} is not a mapped SQLAlchemy model: pass your model class, "
            "e.g. 'class Account(db.Model, AccountMixin)'."
        )
    return mapper


def _name(mapper: Mapper[t.Any]) -> str:
    return mapper.class_.__name__


def _table_column(mapper: Mapper[t.Any], attribute: str) -> Column[t.Any] | None:
    """The table column ``attribute`` is mapped to, or ``None``; does not check its type."""
    prop = mapper.attrs.get(attribute)
    if not isinstance(prop, ColumnProperty) or len(prop.columns) != 1:
        return None
    column = prop.columns[0]
    return column if isinstance(column, Column) else None


def _what_it_is(mapper: Mapper[t.Any], attribute: str) -> str:
    prop = mapper.attrs.get(attribute)
    if prop is not None:
        return f"is a {type(prop).__name__}, not a table column"
    found = mapper.all_orm_descriptors.get(attribute)
    if found is None:
        found = getattr_static(mapper.class_, attribute, None)
    if found is None:
        return "does not exist"
    return f"is a {type(found).__name__}, not mapped to a table column"


def _primary_key(mapper: Mapper[t.Any]) -> Column[t.Any]:
    name = _name(mapper)
    column = _table_column(mapper, "id")
    fix = _ID_EXAMPLE.format(column=repr(column.name if column is not None else "id"))
    if column is None:
        raise ModelMappingError(
            f"{name}.id {_what_it_is(mapper, 'id')}: the extension needs the primary key "
            f"mapped as the attribute 'id', whatever the column's name. Map it with "
            f"`{fix}`."
        )
    if tuple(mapper.primary_key) != (column,) or not isinstance(column.type, Integer):
        raise ModelMappingError(
            f"{name}.id (column {column.table.name}.{column.name}, {column.type}) must be the "
            "table's only primary key column, of an integer type: the extension's tables "
            f"refer to it with foreign keys and integer ids. Map it with `{fix}`."
        )
    return column


def _column(mapper: Mapper[t.Any], need: _Need, target: str) -> Column[t.Any]:
    name = _name(mapper)
    column = _table_column(mapper, need.attribute)
    fix = need.example.format(
        column=repr(column.name if column is not None else need.attribute), target=repr(target)
    )
    if column is None:
        raise ModelMappingError(
            f"{name}.{need.attribute} {_what_it_is(mapper, need.attribute)}. The extension "
            f"uses the attribute '{need.attribute}'; if your column has another name, map it "
            f"under this name: `{fix}`."
        )
    # A foreign key column declared without a type takes the type of the column it refers to.
    inherits_type = isinstance(column.type, NullType) and bool(column.foreign_keys)
    if not inherits_type and not isinstance(column.type, need.type_):
        kind = {String: "a string", Integer: "an integer", DateTime: "a date-time"}[need.type_]
        raise ModelMappingError(
            f"{name}.{need.attribute} (column {column.table.name}.{column.name}) is "
            f"{column.type}, but the extension needs {kind} column: `{fix}`."
        )
    return column


def _check_unique(
    mapper: Mapper[t.Any], columns: list[Column[t.Any]], names: tuple[str, ...]
) -> None:
    """The pair must be the table's primary key, or carry a unique constraint or index.

    The extension adds memberships with ``INSERT ... ON CONFLICT DO NOTHING``:
    without the key, two concurrent additions would make two rows.
    """
    wanted = {column.name for column in columns}
    table = columns[0].table
    keys = [{c.name for c in table.primary_key.columns}]
    keys += [
        {c.name for c in constraint.columns}
        for constraint in getattr(table, "constraints", ())
        if isinstance(constraint, UniqueConstraint)
    ]
    keys += [
        {c.name for c in index.columns if isinstance(c, Column)}
        for index in getattr(table, "indexes", ())
        if index.unique
    ]
    keys += [{c.name} for c in table.columns if c.unique]
    if wanted in keys:
        return
    pair = ", ".join(repr(c.name) for c in columns)
    raise ModelMappingError(
        f"{_name(mapper)} has no primary key or unique constraint on ({pair}), the columns of "
        f"{' and '.join(names)}: the extension adds and removes these rows concurrently and "
        f"needs one row per pair. Add `__table_args__ = (UniqueConstraint({pair}),)` (and "
        "a migration that creates it, after removing duplicate rows)."
    )


def _check_organization_reference(
    team: Mapper[t.Any], column: Column[t.Any], org_id: Column[t.Any]
) -> None:
    """A foreign key on the team's ``organization_id`` must point at the organization's ``id``.

    A column without a foreign key is accepted (a legacy schema may have none).
    """
    target = f"{org_id.table.fullname}.{org_id.name}"
    keys = [fk.target_fullname for fk in column.foreign_keys]
    if keys and target not in keys:
        fix = (
            f"set `__okta_organization_table__ = {org_id.table.fullname!r}` on {_name(team)}"
            if org_id.name == "id"
            else "map it on your team model: `organization_id: Mapped[int] = "
            f"mapped_column(ForeignKey({target!r}), index=True)`"
        )
        raise ModelMappingError(
            f"{_name(team)}.organization_id refers to {', '.join(keys)}, not to the "
            f"organization's id column {target}: {fix}."
        )
