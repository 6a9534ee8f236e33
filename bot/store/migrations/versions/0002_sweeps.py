"""sweep runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweep_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sweep", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("tick", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("series_scanned", sa.Integer(), nullable=False),
        sa.Column("findings_count", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweep_runs")),
        sa.UniqueConstraint("sweep", "tick", name="uq_sweep_runs_sweep_tick"),
    )
    with op.batch_alter_table("sweep_runs", schema=None) as batch_op:
        batch_op.create_index("ix_sweep_runs_sweep_started_at", ["sweep", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sweep_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sweep_runs_sweep_started_at")
    op.drop_table("sweep_runs")
