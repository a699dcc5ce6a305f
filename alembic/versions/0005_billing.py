"""Billing: each account's payment customer, subscription and renewal date (a view).

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
    op.create_table(
        "billing_accounts",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=False, server_default=""),
        sa.Column("subscription_id", sa.Text, nullable=False, server_default=""),
        sa.Column("period_ends_at", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("billing_accounts")
