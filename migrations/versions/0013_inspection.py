"""quarterly inspections, findings, rectifications

Revision ID: 0013_inspection
Revises: 0012_registers
Create Date: 2026-12-04 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_inspection'
down_revision = '0012_registers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inspection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.Integer(), nullable=False),
    sa.Column('scope_kind', sa.String(length=20), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=True),
    sa.Column('scope_label', sa.String(length=120), nullable=False),
    sa.Column('sample_requested', sa.String(length=20), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('population_count', sa.Integer(), nullable=False),
    sa.Column('population_hash', sa.String(length=64), nullable=False),
    sa.Column('population_ids', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closing_note', sa.Text(), nullable=False),
    sa.Column('summary_checked', sa.Integer(), nullable=True),
    sa.Column('summary_conforming', sa.Integer(), nullable=True),
    sa.Column('summary_findings', sa.Integer(), nullable=True),
    sa.Column('summary_open', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_inspection_closed_by_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_inspection_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection'))
    )
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.create_index('ix_inspection_quarter', ['year', 'quarter'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_status'), ['status'], unique=False)

    op.create_table('inspection_sample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=False),
    sa.Column('archive_number', sa.String(length=80), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('paper_count', sa.Integer(), nullable=True),
    sa.Column('electronic_count', sa.Integer(), nullable=True),
    sa.Column('completeness', sa.Integer(), nullable=True),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_inspection_sample_archive_id_archive')),
    sa.ForeignKeyConstraint(['checked_by_id'], ['user_account.id'], name=op.f('fk_inspection_sample_checked_by_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_inspection_sample_department_id_department')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_inspection_sample_inspection_id_inspection')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_sample')),
    sa.UniqueConstraint('inspection_id', 'archive_id', name='uq_inspection_sample_archive')
    )
    with op.batch_alter_table('inspection_sample', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_sample_archive_id'), ['archive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_sample_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_sample_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('inspection_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=30), nullable=False),
    sa.Column('result', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['checked_by_id'], ['user_account.id'], name=op.f('fk_inspection_check_checked_by_id_user_account')),
    sa.ForeignKeyConstraint(['sample_id'], ['inspection_sample.id'], name=op.f('fk_inspection_check_sample_id_inspection_sample')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_check')),
    sa.UniqueConstraint('sample_id', 'key', name='uq_inspection_check_key')
    )
    with op.batch_alter_table('inspection_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_check_sample_id'), ['sample_id'], unique=False)

    op.create_table('rectification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=False),
    sa.Column('instruction', sa.Text(), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.Column('reported_at', sa.DateTime(), nullable=True),
    sa.Column('report_note', sa.Text(), nullable=False),
    sa.Column('returned_count', sa.Integer(), nullable=False),
    sa.Column('return_reason', sa.Text(), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('close_note', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['user_account.id'], name=op.f('fk_rectification_assigned_by_id_user_account')),
    sa.ForeignKeyConstraint(['assignee_id'], ['user_account.id'], name=op.f('fk_rectification_assignee_id_user_account')),
    sa.ForeignKeyConstraint(['check_id'], ['inspection_check.id'], name=op.f('fk_rectification_check_id_inspection_check')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_rectification_closed_by_id_user_account')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_rectification_inspection_id_inspection')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification')),
    sa.UniqueConstraint('check_id', name=op.f('uq_rectification_check_id'))
    )
    with op.batch_alter_table('rectification', schema=None) as batch_op:
        batch_op.create_index('ix_rectification_assignee_status', ['assignee_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_status'), ['status'], unique=False)

    op.create_table('rectification_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rectification_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['rectification_id'], ['rectification.id'], name=op.f('fk_rectification_event_rectification_id_rectification')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_rectification_event_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_event'))
    )
    with op.batch_alter_table('rectification_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_event_rectification_id'), ['rectification_id'], unique=False)


def downgrade():
    with op.batch_alter_table('rectification_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_event_rectification_id'))
    op.drop_table('rectification_event')
    with op.batch_alter_table('rectification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_status'))
        batch_op.drop_index(batch_op.f('ix_rectification_inspection_id'))
        batch_op.drop_index('ix_rectification_assignee_status')
    op.drop_table('rectification')
    with op.batch_alter_table('inspection_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_check_sample_id'))
    op.drop_table('inspection_check')
    with op.batch_alter_table('inspection_sample', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_sample_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_sample_department_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_sample_archive_id'))
    op.drop_table('inspection_sample')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_status'))
        batch_op.drop_index('ix_inspection_quarter')
    op.drop_table('inspection')
