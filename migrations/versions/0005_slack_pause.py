"""slack pause: Slack delivery waits while the bot's own token or workspace is refused

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:40:00
"""

from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'slack_pause',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=64), nullable=False),
        sa.Column('detail', sa.String(length=500), nullable=True),
        sa.Column('since', storage.types.UTCDateTime(), nullable=False),
        sa.Column('next_check_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('checks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_pause')),
    )


def downgrade() -> None:
    op.drop_table('slack_pause')
