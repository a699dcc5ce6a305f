"""PostgreSQL: one function that appends a group of events, so a commit is one round trip.

What the library's recorder does in a pipelined transaction (set the lock timeout, lock the table
against other writers so notification ids commit in order, NOTIFY its channel, insert, return the
ids), as one statement: on its autocommit connection the statement is its own transaction.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION mosaic_insert_events(
            channel text, lock_timeout_ms integer,
            ids uuid[], versions bigint[], topics text[], states bytea[]
        ) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_config('lock_timeout', lock_timeout_ms || 'ms', true);
            LOCK TABLE mosaic_events IN EXCLUSIVE MODE;
            PERFORM pg_notify(channel, '');
            RETURN QUERY
                INSERT INTO mosaic_events (originator_id, originator_version, topic, state)
                SELECT * FROM unnest(ids, versions, topics, states)
                RETURNING notification_id;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION mosaic_insert_events(text, integer, uuid[], bigint[], text[], bytea[])")
