"""agency assignments: a plan's task is assigned to agencies as well as communes

An assignment, its evidence and the accounts and tokens of whoever answers it name a recipient
that is a commune or one of the province's agencies (`units`). Both tables are reference data
with disjoint codes (an agency's begins with a letter, a commune's is five digits), so the
foreign keys to `communes` give way to a check in the services that accept a code. A plan's
task keeps the directive its issue started.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the foreign key's name) of every column that now names a commune or an agency.
RECIPIENT_COLUMNS = (
    ("assignments", "fk_assignments_commune_code_communes"),
    ("evidence_files", "fk_evidence_files_commune_code_communes"),
    ("web_accounts", "fk_web_accounts_commune_code_communes"),
    ("api_tokens", "fk_api_tokens_commune_code_communes"),
)


def upgrade() -> None:
    for table, name in RECIPIENT_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(name), type_="foreignkey")
    with op.batch_alter_table("plan_tasks") as batch:
        batch.add_column(sa.Column("directive_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_plan_tasks_directive_id_directives"), "directives", ["directive_id"], ["id"]
        )
        batch.create_index(op.f("ix_plan_tasks_directive_id"), ["directive_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("plan_tasks") as batch:
        batch.drop_index(op.f("ix_plan_tasks_directive_id"))
        batch.drop_constraint(op.f("fk_plan_tasks_directive_id_directives"), type_="foreignkey")
        batch.drop_column("directive_id")
    for table, name in RECIPIENT_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(op.f(name), "communes", ["commune_code"], ["code"])
