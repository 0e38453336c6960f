"""user groups (roles from Slack user groups): their last known members

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 17:00:00
"""

from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_groups',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('read_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_read_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('told_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_groups'))
    )


def downgrade() -> None:
    op.drop_table('user_groups')
