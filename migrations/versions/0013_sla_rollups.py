"""SLA rollups (issue 16): settled weeks' SLA figures kept; policy in the SLA counts index

A week's SLA figures are kept once nothing in it can change (service/sla_weeks.py), so the
digest reads them instead of the week's clocks; the index the live weeks are counted from
holds the clock's SLA policy too (per policy and per holder in one pass).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 19:30:00
"""

from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

SLA_COUNTS = ['clock', 'started_at', 'owner_id', 'held_by', 'state', 'met_at', 'due_at', 'id']


def upgrade() -> None:
    op.create_table('sla_rollup_weeks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('starts', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rules', sa.Integer(), nullable=False),
    sa.Column('rolled_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_rollup_weeks')),
    sa.UniqueConstraint('starts', 'ends', 'rules',
                        name=op.f('uq_sla_rollup_weeks_starts_ends_rules'))
    )
    op.create_table('sla_rollups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('week_id', sa.Integer(), nullable=False),
    sa.Column('clock', sa.String(length=16), nullable=False),
    sa.Column('holder', sa.String(length=32), nullable=True),
    sa.Column('policy', sa.String(length=60), nullable=True),
    sa.Column('met', sa.Integer(), nullable=False),
    sa.Column('counted', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['week_id'], ['sla_rollup_weeks.id'],
                            name=op.f('fk_sla_rollups_week_id_sla_rollup_weeks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_rollups'))
    )
    with op.batch_alter_table('sla_rollups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_rollups_week_id'), ['week_id'], unique=False)

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_sla_counts')
        batch_op.create_index('ix_deadlines_sla_counts', SLA_COUNTS + ['policy_name'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_sla_counts')
        batch_op.create_index('ix_deadlines_sla_counts', SLA_COUNTS, unique=False)

    with op.batch_alter_table('sla_rollups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_rollups_week_id'))

    op.drop_table('sla_rollups')
    op.drop_table('sla_rollup_weeks')
