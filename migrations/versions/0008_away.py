"""away periods (who is away, until when, who covers) and the acting AE on signals and clocks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 16:04:43.610002
"""

from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('away_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('starts', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cover_id', sa.String(length=32), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('set_by', sa.String(length=32), nullable=False),
    sa.Column('set_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('began_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=32), nullable=True),
    sa.Column('handed_back_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_away_periods'))
    )
    with op.batch_alter_table('away_periods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_away_periods_ends_starts'), ['ends', 'starts'], unique=False)
        batch_op.create_index(batch_op.f('ix_away_periods_person_id_ends'), ['person_id', 'ends'], unique=False)

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_by', sa.String(length=32), nullable=True))

    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acting_ae_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_signals_acting_ae_id'), ['acting_ae_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signals_acting_ae_id'))
        batch_op.drop_column('acting_ae_id')

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_column('held_by')

    with op.batch_alter_table('away_periods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_away_periods_person_id_ends'))
        batch_op.drop_index(batch_op.f('ix_away_periods_ends_starts'))

    op.drop_table('away_periods')
