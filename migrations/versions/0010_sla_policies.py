"""SLA policies: the policy a clock started under (name and snapshot); accounts' segment

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 16:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy_name', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('policy', sa.JSON(), nullable=True))
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('segment', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('segment')
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_column('policy')
        batch_op.drop_column('policy_name')
