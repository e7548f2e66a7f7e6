"""assignment event counts: an assignment's row keeps how many returns, extension requests and
granted extensions its timeline holds, counted from the timeline here and then by the write that
records each such event; the roll-up's covering index carries them

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The column of each event kind counted, as db/models/directives.py's COUNTED_EVENTS on the
# day of this migration.
COUNTED = {
    "returns": "returned",
    "extension_requests": "extension_requested",
    "extensions_granted": "extension_granted",
}
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
]


def upgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        for column in COUNTED:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    assignments = sa.table(
        "assignments",
        sa.column("directive_id", sa.Integer()),
        sa.column("commune_code", sa.String()),
        *(sa.column(column, sa.Integer()) for column in COUNTED),
    )
    events = sa.table(
        "assignment_events",
        sa.column("directive_id", sa.Integer()),
        sa.column("commune_code", sa.String()),
        sa.column("kind", sa.String()),
    )
    own = sa.and_(
        events.c.directive_id == assignments.c.directive_id,
        events.c.commune_code == assignments.c.commune_code,
    )
    op.execute(
        assignments.update()
        .where(sa.exists().where(own, events.c.kind.in_(COUNTED.values())))
        .values(
            {
                column: sa.select(sa.func.count())
                .where(own, events.c.kind == kind)
                .scalar_subquery()
                for column, kind in COUNTED.items()
            }
        )
    )
    # The roll-up counts every figure from this index alone (an index-only scan in commune
    # order); without the counts in it, it reads every row from the table.
    with op.batch_alter_table("assignments") as batch:
        batch.drop_index("ix_assignments_rollup")
        batch.create_index("ix_assignments_rollup", [*ROLLUP_COLUMNS, *COUNTED], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_index("ix_assignments_rollup")
        batch.create_index("ix_assignments_rollup", ROLLUP_COLUMNS, unique=False)
    with op.batch_alter_table("assignments") as batch:
        for column in COUNTED:
            batch.drop_column(column)
