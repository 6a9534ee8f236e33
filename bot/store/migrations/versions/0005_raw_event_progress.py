"""raw events: how many of their alerts are applied (large groups go in bounded transactions)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("raw_events") as batch:
        batch.add_column(sa.Column("alerts_done", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("raw_events") as batch:
        batch.drop_column("alerts_done")
