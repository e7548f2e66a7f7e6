"""indicator sources: an indicator is reported (as before) or computed from the product's data

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every indicator stored so far is reported by its units.
    with op.batch_alter_table("indicators") as batch:
        batch.add_column(
            sa.Column("source", sa.String(length=40), nullable=False, server_default="reported")
        )


def downgrade() -> None:
    with op.batch_alter_table("indicators") as batch:
        batch.drop_column("source")
