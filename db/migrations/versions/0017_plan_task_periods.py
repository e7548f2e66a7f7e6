"""plan task periods and co-ordination: a task reported every period has one directive per
period; a task's directive names its co-ordinating units, who are told of it and may add their
contribution

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
    op.create_table(
        "plan_task_contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=8), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("contributed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["plan_tasks.id"],
            name=op.f("fk_plan_task_contributions_task_id_plan_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_task_contributions")),
    )
    with op.batch_alter_table("plan_task_contributions") as batch:
        batch.create_index(op.f("ix_plan_task_contributions_task_id"), ["task_id"], unique=False)
    with op.batch_alter_table("directives") as batch:
        batch.add_column(sa.Column("co_units", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("directives") as batch:
        batch.drop_column("co_units")
    op.drop_table("plan_task_contributions")
    op.drop_table("plan_task_periods")
