"""crm polling: the high-water mark per CRM, the deal as last known

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:10:00
"""

from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'crm_polls',
        sa.Column('provider', sa.String(length=16), nullable=False),
        sa.Column('since', storage.types.UTCDateTime(), nullable=True),
        sa.Column('next_poll_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('lease_until', storage.types.UTCDateTime(), nullable=True),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('polled_at', storage.types.UTCDateTime(), nullable=True),
        sa.Column('changes', sa.Integer(), nullable=False),
        sa.Column('unknown', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint('provider'),
    )
    with op.batch_alter_table('crm_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crm_state', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('crm_records', schema=None) as batch_op:
        batch_op.drop_column('crm_state')
    op.drop_table('crm_polls')
