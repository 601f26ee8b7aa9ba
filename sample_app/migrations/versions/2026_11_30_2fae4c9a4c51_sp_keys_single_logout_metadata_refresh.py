"""flask-okta-scim's SAML options: SP key pairs, signed requests, encrypted assertions,
single logout, metadata refresh.

Revision ID: 2fae4c9a4c51
Revises: 33de33f1b610
Create Date: 2026-11-30 23:55:08.085512
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "2fae4c9a4c51"
down_revision: str | Sequence[str] | None = "33de33f1b610"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "okta_scim_logout",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("session_index", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["okta_scim_connection.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("okta_scim_logout", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_okta_scim_logout_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_okta_scim_logout_person", ["connection_id", "name_key"], unique=False
        )

    op.create_table(
        "okta_scim_sp_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=100), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["connection_id"], ["okta_scim_connection.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("okta_scim_sp_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_okta_scim_sp_key_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(
            "uq_okta_scim_sp_key_state",
            ["connection_id", "state"],
            unique=True,
            sqlite_where=sa.text("state <> 'retired'"),
            postgresql_where=sa.text("state <> 'retired'"),
        )

    with op.batch_alter_table("okta_scim_authn_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=10), server_default="sign_in", nullable=False)
        )

    with op.batch_alter_table("okta_scim_connection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idp_slo_url", sa.String(length=2048), nullable=True))
        batch_op.add_column(
            sa.Column("sign_requests", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("encrypt_assertions", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("metadata_checked_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("metadata_error", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("retiring_certificates", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("okta_scim_connection", schema=None) as batch_op:
        batch_op.drop_column("retiring_certificates")
        batch_op.drop_column("metadata_error")
        batch_op.drop_column("metadata_checked_at")
        batch_op.drop_column("encrypt_assertions")
        batch_op.drop_column("sign_requests")
        batch_op.drop_column("idp_slo_url")

    with op.batch_alter_table("okta_scim_authn_request", schema=None) as batch_op:
        batch_op.drop_column("purpose")

    with op.batch_alter_table("okta_scim_sp_key", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_okta_scim_sp_key_state",
            sqlite_where=sa.text("state <> 'retired'"),
            postgresql_where=sa.text("state <> 'retired'"),
        )
        batch_op.drop_index(batch_op.f("ix_okta_scim_sp_key_connection_id"))

    op.drop_table("okta_scim_sp_key")
    with op.batch_alter_table("okta_scim_logout", schema=None) as batch_op:
        batch_op.drop_index("ix_okta_scim_logout_person")
        batch_op.drop_index(batch_op.f("ix_okta_scim_logout_expires_at"))

    op.drop_table("okta_scim_logout")
