"""signed Slack requests already handled (replay protection)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_seen_requests",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_seen_requests")),
    )
    op.create_index("ix_slack_seen_requests_expires_at", "slack_seen_requests", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_seen_requests_expires_at", table_name="slack_seen_requests")
    op.drop_table("slack_seen_requests")
