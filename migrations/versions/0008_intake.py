"""scan intake: received files, their pages, where they went

Revision ID: 0008_intake
Revises: 0007_jobs
Create Date: 2026-12-04 16:26:00.051697

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_intake'
down_revision = '0007_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('staged_key', sa.String(length=200), nullable=True),
    sa.Column('staged_version', sa.String(length=200), nullable=True),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('master_key_id', sa.String(length=32), nullable=False),
    sa.Column('page_from', sa.Integer(), nullable=True),
    sa.Column('page_to', sa.Integer(), nullable=True),
    sa.Column('page_count', sa.Integer(), nullable=True),
    sa.Column('pages_done', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=True),
    sa.Column('doc_type', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('cover_number', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('ocr_engine', sa.String(length=20), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('client_addr', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('filer_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_intake_item_archive_id_archive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_intake_item_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_intake_item_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_intake_item_document_id_document')),
    sa.ForeignKeyConstraint(['filer_id'], ['user_account.id'], name=op.f('fk_intake_item_filer_id_user_account')),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_intake_item_job_id_job')),
    sa.ForeignKeyConstraint(['parent_id'], ['intake_item.id'], name=op.f('fk_intake_item_parent_id_intake_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_item'))
    )
    with op.batch_alter_table('intake_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_item_archive_id'), ['archive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_item_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_intake_item_sha256', ['sha256'], unique=False)
        batch_op.create_index('ix_intake_item_state', ['state'], unique=False)

    op.create_table('intake_page',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('confidence', sa.Double(), nullable=True),
    sa.Column('rotation', sa.Integer(), nullable=False),
    sa.Column('skew', sa.Double(), nullable=False),
    sa.Column('cover_number', sa.String(length=100), nullable=False),
    sa.Column('cover_doc_type', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['intake_item.id'], name=op.f('fk_intake_page_item_id_intake_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_page')),
    sa.UniqueConstraint('item_id', 'number', name='uq_intake_page_number')
    )


def downgrade():
    op.drop_table('intake_page')
    with op.batch_alter_table('intake_item', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_item_state')
        batch_op.drop_index('ix_intake_item_sha256')
        batch_op.drop_index(batch_op.f('ix_intake_item_parent_id'))
        batch_op.drop_index(batch_op.f('ix_intake_item_archive_id'))

    op.drop_table('intake_item')
