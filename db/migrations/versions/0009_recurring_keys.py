"""recurring keys: a recurring directive created with an Idempotency-Key is created once

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recurring_directives") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("request_fingerprint", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_recurring_directives_idempotency_key"), ["idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("recurring_directives") as batch:
        batch.drop_constraint(op.f("uq_recurring_directives_idempotency_key"), type_="unique")
        batch.drop_column("request_fingerprint")
        batch.drop_column("idempotency_key")
