"""search index outbox (pending index updates written in the committing transaction)

Revision ID: 0004_search
Revises: 0003_documents
Create Date: 2026-11-23 18:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_search'
down_revision = '0003_documents'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('search_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('obj_id', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_outbox'))
    )
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_search_outbox_pending', ['done_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_outbox_queued_at'), ['queued_at'], unique=False)


def downgrade():
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_outbox_queued_at'))
        batch_op.drop_index('ix_search_outbox_pending')
    op.drop_table('search_outbox')
