"""indicators: targets with milestones, and the values reported against them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("rhythm", sa.String(length=20), nullable=False),
        sa.Column("unit_of_measure", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("responsible", sa.String(length=300), nullable=False),
        sa.Column("baseline_value", sa.Float(), nullable=True),
        sa.Column("baseline_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_indicators")),
    )
    op.create_index(op.f("ix_indicators_group"), "indicators", ["group"], unique=False)
    op.create_table(
        "indicator_milestones",
        sa.Column("indicator_code", sa.String(length=40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("target_low", sa.Float(), nullable=False),
        sa.Column("target_high", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_code"],
            ["indicators.code"],
            name=op.f("fk_indicator_milestones_indicator_code_indicators"),
        ),
        sa.PrimaryKeyConstraint("indicator_code", "due_on", name=op.f("pk_indicator_milestones")),
    )
    op.create_table(
        "indicator_values",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("indicator_code", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=8), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("reported_by", sa.String(length=300), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_by", sa.String(length=300), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supersedes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["indicator_code"],
            ["indicators.code"],
            name=op.f("fk_indicator_values_indicator_code_indicators"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes"],
            ["indicator_values.id"],
            name=op.f("fk_indicator_values_supersedes_indicator_values"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_values")),
    )
    op.create_index(
        "ix_indicator_values_series",
        "indicator_values",
        ["indicator_code", "unit_code", "as_of"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_indicator_values_series", table_name="indicator_values")
    op.drop_table("indicator_values")
    op.drop_table("indicator_milestones")
    op.drop_index(op.f("ix_indicators_group"), table_name="indicators")
    op.drop_table("indicators")
