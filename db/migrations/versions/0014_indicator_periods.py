"""indicator periods: each reporting period of an indicator, opened once, with its directive

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "indicator_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("indicator_code", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("report_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("directive_id", sa.Integer(), nullable=True),
        sa.Column("opened_by", sa.String(length=300), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_code"],
            ["indicators.code"],
            name=op.f("fk_indicator_periods_indicator_code_indicators"),
        ),
        sa.ForeignKeyConstraint(
            ["directive_id"],
            ["directives.id"],
            name=op.f("fk_indicator_periods_directive_id_directives"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_periods")),
        sa.UniqueConstraint(
            "indicator_code",
            "period_start",
            name=op.f("uq_indicator_periods_indicator_code_period_start"),
        ),
    )


def downgrade() -> None:
    op.drop_table("indicator_periods")
