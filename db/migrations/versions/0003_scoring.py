"""scoring: score snapshots, the change feed, the roll-up's index, recurring obligations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
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

    op.create_table(
        "recurring_directives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("required_count", sa.Integer(), nullable=False),
        sa.Column("communes", sa.JSON(), nullable=False),
        sa.Column("skip_holidays", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recurring_directives")),
    )
    op.create_table(
        "obligation_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recurring_id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=8), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("required_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reported_count", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["commune_code"],
            ["communes.code"],
            name=op.f("fk_obligation_periods_commune_code_communes"),
        ),
        sa.ForeignKeyConstraint(
            ["recurring_id"],
            ["recurring_directives.id"],
            name=op.f("fk_obligation_periods_recurring_id_recurring_directives"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_obligation_periods")),
        sa.UniqueConstraint(
            "recurring_id",
            "starts_at",
            "commune_code",
            name=op.f("uq_obligation_periods_recurring_id_starts_at_commune_code"),
        ),
    )
    with op.batch_alter_table("obligation_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_obligation_periods_commune_ends", ["commune_code", "ends_at"], unique=False
        )
    op.create_table(
        "obligation_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("done_on", sa.String(length=10), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=False),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["obligation_periods.id"],
            name=op.f("fk_obligation_reports_period_id_obligation_periods"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_obligation_reports")),
        sa.UniqueConstraint(
            "period_id",
            "title",
            "done_on",
            "link",
            name=op.f("uq_obligation_reports_period_id_title_done_on_link"),
        ),
    )


def downgrade() -> None:
    op.drop_table("obligation_reports")
    with op.batch_alter_table("obligation_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_obligation_periods_commune_ends")
    op.drop_table("obligation_periods")
    op.drop_table("recurring_directives")
    op.drop_table("changes")
    with op.batch_alter_table("score_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_score_snapshots_commune_date")
    op.drop_table("score_snapshots")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_rollup")
