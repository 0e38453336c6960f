"""digest covering indexes (issue 16): SLA counts, outcome events, signals by stage

The week's SLA counts, its outcomes and "stalled now" are read from indexes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 16:30:00
"""

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_clock_started_at')
        batch_op.create_index('ix_deadlines_sla_counts', ['clock', 'started_at', 'owner_id',
                                                          'held_by', 'state', 'met_at', 'due_at',
                                                          'id'],
                              unique=False)

    with op.batch_alter_table('signal_events', schema=None) as batch_op:
        batch_op.drop_index('ix_signal_events_kind_at')
        batch_op.create_index('ix_signal_events_kind_at_signal_id', ['kind', 'at', 'signal_id'],
                              unique=False)

    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_stage')
        batch_op.create_index('ix_signals_stage_ae_id', ['stage', 'ae_id'], unique=False)
        batch_op.create_index('ix_signals_stage_contacted_at', ['stage', 'contacted_at'],
                              unique=False)
        batch_op.create_index('ix_signals_stage_revisit_on', ['stage', 'revisit_on'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_stage_revisit_on')
        batch_op.drop_index('ix_signals_stage_contacted_at')
        batch_op.drop_index('ix_signals_stage_ae_id')
        batch_op.create_index('ix_signals_stage', ['stage'], unique=False)

    with op.batch_alter_table('signal_events', schema=None) as batch_op:
        batch_op.drop_index('ix_signal_events_kind_at_signal_id')
        batch_op.create_index('ix_signal_events_kind_at', ['kind', 'at'], unique=False)

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_sla_counts')
        batch_op.create_index('ix_deadlines_clock_started_at', ['clock', 'started_at'],
                              unique=False)
