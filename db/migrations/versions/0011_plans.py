"""plans: implementation plans and the tasks of their appendices, with their units and partners

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_plans_code")),
    )
    op.create_table(
        "plan_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("group", sa.String(length=500), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("leader_in_charge", sa.String(length=200), nullable=False),
        sa.Column("product", sa.Text(), nullable=False),
        sa.Column("authority", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("due_text", sa.String(length=500), nullable=False),
        sa.Column("milestones", sa.JSON(), nullable=False),
        sa.Column("recurrence_every", sa.String(length=10), nullable=True),
        sa.Column("recurrence_until_year", sa.Integer(), nullable=True),
        sa.Column("final_due", sa.Date(), nullable=True),
        sa.Column("progress", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("implements", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_tasks_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_tasks")),
        sa.UniqueConstraint("plan_id", "code", name=op.f("uq_plan_tasks_plan_id_code")),
    )
    # The office lists what falls due soon across plans.
    op.create_index(op.f("ix_plan_tasks_final_due"), "plan_tasks", ["final_due"], unique=False)
    op.create_table(
        "plan_task_units",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=4), nullable=False),
        sa.Column("unit_code", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["plan_tasks.id"], name=op.f("fk_plan_task_units_task_id_plan_tasks")
        ),
        sa.PrimaryKeyConstraint("task_id", "role", "unit_code", name=op.f("pk_plan_task_units")),
    )
    op.create_table(
        "plan_task_partners",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["plan_tasks.id"], name=op.f("fk_plan_task_partners_task_id_plan_tasks")
        ),
        sa.PrimaryKeyConstraint("task_id", "role", "name", name=op.f("pk_plan_task_partners")),
    )


def downgrade() -> None:
    op.drop_table("plan_task_partners")
    op.drop_table("plan_task_units")
    op.drop_index(op.f("ix_plan_tasks_final_due"), table_name="plan_tasks")
    op.drop_table("plan_tasks")
    op.drop_table("plans")
