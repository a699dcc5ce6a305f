"""Account mail: whether each user's e-mail is verified, their session version, and the mail tokens
issued (by hash only), so a link's token finds its user (views).

Rows of users registered before this revision get the values their events give: unverified, version 0.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()))
        users.add_column(sa.Column("token_version", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "mail_tokens",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text, nullable=False),
        sa.Column("used", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("mail_tokens_by_user", "mail_tokens", ["user_id", "purpose"])


def downgrade() -> None:
    op.drop_index("mail_tokens_by_user", "mail_tokens")
    op.drop_table("mail_tokens")
    with op.batch_alter_table("users") as users:
        users.drop_column("token_version")
        users.drop_column("email_verified")
