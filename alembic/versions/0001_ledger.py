"""The event store (as the eventsourcing library reads it), projection views and operational tables.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Exactly the library's PostgresApplicationRecorder schema (CREATE_TABLE=n: we own it); the
        # library names the table after the application ("mosaic") on PostgreSQL.
        op.execute(
            "CREATE TABLE mosaic_events ("
            "originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, "
            "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        )
        op.execute(
            "CREATE UNIQUE INDEX mosaic_events_notification_id_idx "
            "ON mosaic_events (notification_id ASC)"
        )
        op.execute(
            "CREATE TYPE stored_event_uuid AS "
            "(originator_id uuid, originator_version bigint, topic text, state bytea)"
        )
    else:
        # Exactly the library's SQLiteApplicationRecorder schema: the notification id is the rowid.
        op.execute(
            "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
            "state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )

    op.create_table(
        "projection_tracking",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO projection_tracking (name, position) VALUES ('views', 0)")
    op.create_table(
        "balances",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("owner_user_id", sa.Text, nullable=False),
        sa.Column("plan_name", sa.Text, nullable=False),
        sa.Column("monthly_quota", sa.Integer, nullable=False),
        sa.Column("sub_status", sa.Text, nullable=False),
        sa.Column("api_access", sa.Boolean, nullable=False),
        sa.Column("settled_credits", sa.BigInteger, nullable=False),
        sa.Column("reserved_credits", sa.BigInteger, nullable=False),
        sa.Column("statement_lines", sa.BigInteger, nullable=False),
        sa.Column("opened_at", sa.Text, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("email", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("registered_at", sa.Text, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.Text),
        sa.Column("revoked_by", sa.Text),
    )
    op.create_index("api_keys_by_user", "api_keys", ["user_id", "created_at"])
    op.create_table(
        "statement",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("line", sa.BigInteger, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("reference", sa.Text),
        sa.Column("tool", sa.Text),
        sa.Column("delta_credits", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.Text),
    )
    op.create_table(
        "open_reservations",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("tool", sa.Text, nullable=False),
        sa.Column("cost_credits", sa.Integer, nullable=False),
        sa.Column("reserved_at", sa.Text, nullable=False),
    )
    op.create_index("open_reservations_by_age", "open_reservations", ["reserved_at"])
    op.create_table(
        "charges",
        sa.Column("charge_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("tool", sa.Text, nullable=False),
        sa.Column("cost_credits", sa.Integer, nullable=False),
        sa.Column("refunded_credits", sa.Integer, nullable=False),
        sa.Column("captured_at", sa.Text, nullable=False),
    )
    # Operational tables: not projections (not rebuilt from events), and never hold a secret.
    op.create_table(
        "key_usage",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("last_used_at", sa.Text, nullable=False),
    )
    op.create_table(
        "idempotency",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("idem_key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("media_type", sa.Text),
        sa.Column("headers", sa.Text),
        sa.Column("body", sa.LargeBinary),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("idempotency_by_expiry", "idempotency", ["expires_at"])


def downgrade() -> None:
    for table in (
        "idempotency",
        "key_usage",
        "charges",
        "open_reservations",
        "statement",
        "api_keys",
        "users",
        "balances",
        "projection_tracking",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("mosaic_events")
        op.execute("DROP TYPE stored_event_uuid")
    else:
        op.drop_table("stored_events")
