"""assignment issued_at: an assignment's row keeps its directive's issue, copied here from the
directives and then by the write that records the assignment; the roll-up's covering index
carries it, so the medians measure from it without a join

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The roll-up index's columns as migration 0018 left them.
ROLLUP_COLUMNS = [
    "commune_code",
    "original_deadline",
    "status",
    "timeliness",
    "escalation_level",
    "acknowledge_by",
    "acknowledged_at",
    "reported_at",
    "directive_id",
    "returns",
    "extension_requests",
    "extensions_granted",
]


def upgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True))
    assignments = sa.table(
        "assignments",
        sa.column("directive_id", sa.Integer()),
        sa.column("issued_at", sa.DateTime(timezone=True)),
    )
    directives = sa.table(
        "directives",
        sa.column("id", sa.Integer()),
        sa.column("issued_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        assignments.update().values(
            issued_at=sa.select(directives.c.issued_at)
            .where(directives.c.id == assignments.c.directive_id)
            .scalar_subquery()
        )
    )
    # Every assignment has its directive (a foreign key), so none is left without an issue.
    with op.batch_alter_table("assignments") as batch:
        batch.alter_column("issued_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_index("ix_assignments_rollup")
        batch.create_index("ix_assignments_rollup", [*ROLLUP_COLUMNS, "issued_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_index("ix_assignments_rollup")
        batch.create_index("ix_assignments_rollup", ROLLUP_COLUMNS, unique=False)
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("issued_at")
