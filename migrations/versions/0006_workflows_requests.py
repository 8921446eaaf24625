"""query requests (time-limited grants) and change requests

Revision ID: 0006_workflows_requests
Revises: 0005_workflows_borrowing
Create Date: 2026-11-23 18:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_workflows_requests'
down_revision = '0005_workflows_borrowing'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('query_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=True),
    sa.Column('archive_ref', sa.String(length=80), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('scope_note', sa.Text(), nullable=False),
    sa.Column('asked_document_id', sa.Integer(), nullable=True),
    sa.Column('period_days', sa.Integer(), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('needs_manager', sa.Boolean(), nullable=False),
    sa.Column('archivist_id', sa.Integer(), nullable=True),
    sa.Column('archivist_at', sa.DateTime(), nullable=True),
    sa.Column('archivist_note', sa.Text(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('manager_at', sa.DateTime(), nullable=True),
    sa.Column('manager_note', sa.Text(), nullable=False),
    sa.Column('rejected_by_id', sa.Integer(), nullable=True),
    sa.Column('rejected_at', sa.DateTime(), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('granted_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('doc_floor', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_query_request_archive_id_archive'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['archivist_id'], ['user_account.id'], name=op.f('fk_query_request_archivist_id_user_account')),
    sa.ForeignKeyConstraint(['asked_document_id'], ['document.id'], name=op.f('fk_query_request_asked_document_id_document'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['manager_id'], ['user_account.id'], name=op.f('fk_query_request_manager_id_user_account')),
    sa.ForeignKeyConstraint(['rejected_by_id'], ['user_account.id'], name=op.f('fk_query_request_rejected_by_id_user_account')),
    sa.ForeignKeyConstraint(['requester_id'], ['user_account.id'], name=op.f('fk_query_request_requester_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_query_request'))
    )
    with op.batch_alter_table('query_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_query_request_archive_id'), ['archive_id'], unique=False)
        batch_op.create_index('ix_query_request_grants', ['requester_id', 'status', 'expires_at'], unique=False)
        batch_op.create_index('ix_query_request_status', ['status', 'created_at'], unique=False)

    op.create_table('query_request_document',
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_query_request_document_document_id_document'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['query_request.id'], name=op.f('fk_query_request_document_request_id_query_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('request_id', 'document_id', name=op.f('pk_query_request_document'))
    )
    with op.batch_alter_table('query_request_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_query_request_document_document_id'), ['document_id'], unique=False)

    op.create_table('change_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evidence_document_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('needs_service', sa.Boolean(), nullable=False),
    sa.Column('head_id', sa.Integer(), nullable=True),
    sa.Column('head_at', sa.DateTime(), nullable=True),
    sa.Column('head_note', sa.Text(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('service_at', sa.DateTime(), nullable=True),
    sa.Column('service_note', sa.Text(), nullable=False),
    sa.Column('applied_by_id', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(), nullable=True),
    sa.Column('rejected_by_id', sa.Integer(), nullable=True),
    sa.Column('rejected_at', sa.DateTime(), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['applied_by_id'], ['user_account.id'], name=op.f('fk_change_request_applied_by_id_user_account')),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_change_request_archive_id_archive'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['evidence_document_id'], ['document.id'], name=op.f('fk_change_request_evidence_document_id_document'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['head_id'], ['user_account.id'], name=op.f('fk_change_request_head_id_user_account')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['user_account.id'], name=op.f('fk_change_request_proposed_by_id_user_account')),
    sa.ForeignKeyConstraint(['rejected_by_id'], ['user_account.id'], name=op.f('fk_change_request_rejected_by_id_user_account')),
    sa.ForeignKeyConstraint(['service_id'], ['user_account.id'], name=op.f('fk_change_request_service_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_request'))
    )
    with op.batch_alter_table('change_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_request_archive_id'), ['archive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_request_proposed_by_id'), ['proposed_by_id'], unique=False)
        batch_op.create_index('ix_change_request_status', ['status', 'created_at'], unique=False)

    op.create_table('change_request_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=False),
    sa.Column('new_value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['change_request.id'], name=op.f('fk_change_request_item_request_id_change_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_request_item'))
    )
    with op.batch_alter_table('change_request_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_request_item_request_id'), ['request_id'], unique=False)


def downgrade():
    with op.batch_alter_table('change_request_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_request_item_request_id'))

    op.drop_table('change_request_item')
    with op.batch_alter_table('change_request', schema=None) as batch_op:
        batch_op.drop_index('ix_change_request_status')
        batch_op.drop_index(batch_op.f('ix_change_request_proposed_by_id'))
        batch_op.drop_index(batch_op.f('ix_change_request_archive_id'))

    op.drop_table('change_request')
    with op.batch_alter_table('query_request_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_query_request_document_document_id'))

    op.drop_table('query_request_document')
    with op.batch_alter_table('query_request', schema=None) as batch_op:
        batch_op.drop_index('ix_query_request_status')
        batch_op.drop_index('ix_query_request_grants')
        batch_op.drop_index(batch_op.f('ix_query_request_archive_id'))

    op.drop_table('query_request')
