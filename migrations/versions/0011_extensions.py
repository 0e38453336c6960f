"""extensions (more time on the contact SLA) and the approver card's extension

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:30:00
"""

from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signal_id', sa.Integer(), nullable=False),
    sa.Column('deadline_id', sa.Integer(), nullable=False),
    sa.Column('ae_id', sa.String(length=32), nullable=True),
    sa.Column('asked_by', sa.String(length=32), nullable=False),
    sa.Column('approvers', sa.JSON(), nullable=False),
    sa.Column('old_due', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('new_due', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('asked_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['deadline_id'], ['deadlines.id'], name=op.f('fk_extensions_deadline_id_deadlines')),
    sa.ForeignKeyConstraint(['signal_id'], ['signals.id'], name=op.f('fk_extensions_signal_id_signals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extensions'))
    )
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extensions_asked_at'), ['asked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_extensions_decided_at'), ['decided_at'], unique=False)
        batch_op.create_index('uq_extensions_pending', ['signal_id'], unique=True,
                              postgresql_where=sa.text("state = 'pending'"),
                              sqlite_where=sa.text("state = 'pending'"))
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extension_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('extension_id')
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.drop_index('uq_extensions_pending', sqlite_where=sa.text("state = 'pending'"),
                            postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_extensions_decided_at'))
        batch_op.drop_index(batch_op.f('ix_extensions_asked_at'))
    op.drop_table('extensions')
