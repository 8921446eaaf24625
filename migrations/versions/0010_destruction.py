"""destruction applications, executions, tombstones

Revision ID: 0010_destruction
Revises: 0009_retention
Create Date: 2026-12-04 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_destruction'
down_revision = '0009_retention'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('destruction_sequence',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_destruction_sequence'))
    )
    op.create_table('destruction_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('grounds', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('step_started_at', sa.DateTime(), nullable=False),
    sa.Column('pipl_received_on', sa.Date(), nullable=True),
    sa.Column('pipl_channel', sa.String(length=60), nullable=False),
    sa.Column('pipl_requester', sa.String(length=200), nullable=False),
    sa.Column('pipl_identity', sa.Text(), nullable=False),
    sa.Column('pipl_reference', sa.Text(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('service_at', sa.DateTime(), nullable=True),
    sa.Column('service_note', sa.Text(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('manager_at', sa.DateTime(), nullable=True),
    sa.Column('manager_note', sa.Text(), nullable=False),
    sa.Column('rejected_by_id', sa.Integer(), nullable=True),
    sa.Column('rejected_at', sa.DateTime(), nullable=True),
    sa.Column('rejected_step', sa.String(length=20), nullable=False),
    sa.Column('reject_reason', sa.Text(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('executor_id', sa.Integer(), nullable=True),
    sa.Column('witness_id', sa.Integer(), nullable=True),
    sa.Column('paper_method', sa.String(length=60), nullable=False),
    sa.Column('execution_started_at', sa.DateTime(), nullable=True),
    sa.Column('executed_at', sa.DateTime(), nullable=True),
    sa.Column('certificate_pdf', sa.LargeBinary(), nullable=True),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['applicant_id'], ['user_account.id'], name=op.f('fk_destruction_application_applicant_id_user_account')),
    sa.ForeignKeyConstraint(['executor_id'], ['user_account.id'], name=op.f('fk_destruction_application_executor_id_user_account')),
    sa.ForeignKeyConstraint(['manager_id'], ['user_account.id'], name=op.f('fk_destruction_application_manager_id_user_account')),
    sa.ForeignKeyConstraint(['rejected_by_id'], ['user_account.id'], name=op.f('fk_destruction_application_rejected_by_id_user_account')),
    sa.ForeignKeyConstraint(['service_id'], ['user_account.id'], name=op.f('fk_destruction_application_service_id_user_account')),
    sa.ForeignKeyConstraint(['witness_id'], ['user_account.id'], name=op.f('fk_destruction_application_witness_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_destruction_application')),
    sa.UniqueConstraint('number', name=op.f('uq_destruction_application_number'))
    )
    with op.batch_alter_table('destruction_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_destruction_application_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index('ix_destruction_application_status', ['status', 'created_at'], unique=False)

    op.create_table('destruction_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=False),
    sa.Column('active_archive_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('archive_number', sa.String(length=80), nullable=False),
    sa.Column('customer_name', sa.String(length=200), nullable=False),
    sa.Column('filed_on', sa.Date(), nullable=True),
    sa.Column('terminated_on', sa.Date(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('versions', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('objects', sa.Integer(), nullable=False),
    sa.Column('bytes_removed', sa.BigInteger(), nullable=False),
    sa.Column('intake_objects', sa.Integer(), nullable=False),
    sa.Column('intake_pages', sa.Integer(), nullable=False),
    sa.Column('subrecords', sa.Integer(), nullable=False),
    sa.Column('key_destroyed', sa.Boolean(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['destruction_application.id'], name=op.f('fk_destruction_record_application_id_destruction_application')),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_destruction_record_archive_id_archive')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_destruction_record_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_destruction_record')),
    sa.UniqueConstraint('active_archive_id', name=op.f('uq_destruction_record_active_archive_id'))
    )
    with op.batch_alter_table('destruction_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_destruction_record_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_destruction_record_archive_id'), ['archive_id'], unique=False)

    op.create_table('destruction_department_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['destruction_application.id'], name=op.f('fk_destruction_department_approval_application_id_destruction_application')),
    sa.ForeignKeyConstraint(['approver_id'], ['user_account.id'], name=op.f('fk_destruction_department_approval_approver_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_destruction_department_approval_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_destruction_department_approval')),
    sa.UniqueConstraint('application_id', 'department_id', name='uq_destruction_department_part')
    )
    with op.batch_alter_table('destruction_department_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_destruction_department_approval_application_id'), ['application_id'], unique=False)


def downgrade():
    with op.batch_alter_table('destruction_department_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_destruction_department_approval_application_id'))
    op.drop_table('destruction_department_approval')
    with op.batch_alter_table('destruction_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_destruction_record_archive_id'))
        batch_op.drop_index(batch_op.f('ix_destruction_record_application_id'))
    op.drop_table('destruction_record')
    with op.batch_alter_table('destruction_application', schema=None) as batch_op:
        batch_op.drop_index('ix_destruction_application_status')
        batch_op.drop_index(batch_op.f('ix_destruction_application_applicant_id'))
    op.drop_table('destruction_application')
    op.drop_table('destruction_sequence')
