"""accounts registry, product events and triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Generated with `alembic revision --autogenerate` against a database at 0001, then tidied.
"""

from alembic import op
import sqlalchemy as sa
import storage.types


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_DATETIME = storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seats", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("limits", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("cycle_months", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("contract_start", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("renewal_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("health", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("feature_adoption", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("open_support", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("support_resolved_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", UTC_DATETIME, nullable=True))
        batch_op.create_index(batch_op.f("ix_accounts_renewal_date"), ["renewal_date"])

    op.create_table(
        "product_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("limit_value", sa.Float(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_product_events_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_product_events_event_id")),
    )
    op.create_index(
        op.f("ix_product_events_account_id_type"), "product_events", ["account_id", "type"]
    )
    op.create_index(op.f("ix_product_events_received_at"), "product_events", ["received_at"])

    op.create_table(
        "trigger_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_trigger_queue_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_queue")),
    )
    op.create_index(op.f("ix_trigger_queue_account_id"), "trigger_queue", ["account_id"])

    op.create_table(
        "triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("episode", sa.String(length=150), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("notified", sa.Integer(), nullable=False),
        sa.Column("fired_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("snoozed_until", UTC_DATETIME, nullable=True),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_triggers_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
        sa.UniqueConstraint(
            "account_id", "kind", "episode", name=op.f("uq_triggers_account_id_kind_episode")
        ),
    )
    op.create_index(op.f("ix_triggers_fired_at"), "triggers", ["fired_at"])
    op.create_index(
        op.f("ix_triggers_state_snoozed_until"), "triggers", ["state", "snoozed_until"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_triggers_state_snoozed_until"), table_name="triggers")
    op.drop_index(op.f("ix_triggers_fired_at"), table_name="triggers")
    op.drop_table("triggers")
    op.drop_index(op.f("ix_trigger_queue_account_id"), table_name="trigger_queue")
    op.drop_table("trigger_queue")
    op.drop_index(op.f("ix_product_events_received_at"), table_name="product_events")
    op.drop_index(op.f("ix_product_events_account_id_type"), table_name="product_events")
    op.drop_table("product_events")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_renewal_date"))
        for column in (
            "updated_at", "support_resolved_on", "open_support", "feature_adoption", "health",
            "renewal_date", "contract_start", "cycle_months", "limits", "seats", "plan",
        ):
            batch_op.drop_column(column)
