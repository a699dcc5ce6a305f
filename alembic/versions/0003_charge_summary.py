"""Charges keep the request's parameter summary (CreditsReserved v2), for support staff.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("charges") as batch:
        batch.add_column(sa.Column("summary", sa.Text, nullable=False, server_default=""))
    with op.batch_alter_table("open_reservations") as batch:
        batch.add_column(sa.Column("summary", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("open_reservations") as batch:
        batch.drop_column("summary")
    with op.batch_alter_table("charges") as batch:
        batch.drop_column("summary")
