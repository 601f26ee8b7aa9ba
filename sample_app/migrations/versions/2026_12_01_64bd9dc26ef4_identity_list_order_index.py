"""flask-okta-scim's index of identities in list order, for deep pages of ``GET /Users``.

Revision ID: 64bd9dc26ef4
Revises: 2fae4c9a4c51
Create Date: 2026-12-01 03:10:39.000000

One index on ``okta_scim_identity (organization_id, created_at, id)``, partial (the
people a list shows: ``deleted_at IS NULL``): a page at any depth walks this index
alone. Written by hand after the model's ``Index``; ``flask db migrate`` then finds
nothing to do. (PostgreSQL blocks writes to the table while it builds the index: about a
second per 100,000 people.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "64bd9dc26ef4"
down_revision: str | Sequence[str] | None = "2fae4c9a4c51"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_okta_scim_identity_org_created"
LISTED = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("okta_scim_identity", schema=None) as batch_op:
        batch_op.create_index(
            NAME,
            ["organization_id", "created_at", "id"],
            unique=False,
            sqlite_where=LISTED,
            postgresql_where=LISTED,
        )


def downgrade() -> None:
    with op.batch_alter_table("okta_scim_identity", schema=None) as batch_op:
        batch_op.drop_index(NAME, sqlite_where=LISTED, postgresql_where=LISTED)
