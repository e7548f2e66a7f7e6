"""plan task periods: a task reported every period has one directive per period

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_task_periods",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("directive_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["plan_tasks.id"], name=op.f("fk_plan_task_periods_task_id_plan_tasks")
        ),
        sa.ForeignKeyConstraint(
            ["directive_id"],
            ["directives.id"],
            name=op.f("fk_plan_task_periods_directive_id_directives"),
        ),
        sa.PrimaryKeyConstraint("task_id", "starts_on", name=op.f("pk_plan_task_periods")),
        sa.UniqueConstraint("directive_id", name=op.f("uq_plan_task_periods_directive_id")),
    )


def downgrade() -> None:
    op.drop_table("plan_task_periods")
