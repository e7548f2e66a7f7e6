"""scoring: score snapshots, the change feed, the roll-up's index

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignments_rollup",
            [
                "commune_code",
                "original_deadline",
                "status",
                "timeliness",
                "escalation_level",
                "acknowledge_by",
                "acknowledged_at",
                "reported_at",
                "directive_id",
            ],
            unique=False,
        )

    op.create_table(
        "score_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_date", sa.String(length=10), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("commune_code", sa.String(length=8), nullable=False),
        sa.Column("rules_version", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("scorecard", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_code"],
            ["communes.code"],
            name=op.f("fk_score_snapshots_commune_code_communes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_snapshots")),
        sa.UniqueConstraint(
            "snapshot_date",
            "period",
            "commune_code",
            "rules_version",
            name=op.f("uq_score_snapshots_snapshot_date_period_commune_code_rules_version"),
        ),
    )
    with op.batch_alter_table("score_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_score_snapshots_commune_date", ["commune_code", "snapshot_date"], unique=False
        )

    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("directive_id", sa.Integer(), nullable=True),
        sa.Column("commune_code", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )


def downgrade() -> None:
    op.drop_table("changes")
    with op.batch_alter_table("score_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_score_snapshots_commune_date")
    op.drop_table("score_snapshots")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_rollup")
