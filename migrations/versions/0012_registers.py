"""handovers

Revision ID: 0012_registers
Revises: 0011_backups
Create Date: 2026-12-04 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_registers'
down_revision = '0011_backups'
branch_labels = None
depends_on = None


def upgrade():
    # handovers 移交 of archives between responsible people (portal.reports.models)
    op.create_table('handover',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handover_date', sa.Date(), nullable=False),
    sa.Column('giver_id', sa.Integer(), nullable=False),
    sa.Column('receiver_id', sa.Integer(), nullable=False),
    sa.Column('giver_department_id', sa.Integer(), nullable=True),
    sa.Column('receiver_department_id', sa.Integer(), nullable=True),
    sa.Column('new_department_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('reason_text', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('confirm_note', sa.String(length=300), nullable=False),
    sa.Column('lock_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_handover_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['giver_department_id'], ['department.id'], name=op.f('fk_handover_giver_department_id_department')),
    sa.ForeignKeyConstraint(['giver_id'], ['user_account.id'], name=op.f('fk_handover_giver_id_user_account')),
    sa.ForeignKeyConstraint(['new_department_id'], ['department.id'], name=op.f('fk_handover_new_department_id_department')),
    sa.ForeignKeyConstraint(['receiver_department_id'], ['department.id'], name=op.f('fk_handover_receiver_department_id_department')),
    sa.ForeignKeyConstraint(['receiver_id'], ['user_account.id'], name=op.f('fk_handover_receiver_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover'))
    )
    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handover_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_giver_id'), ['giver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_receiver_id'), ['receiver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_status'), ['status'], unique=False)

    op.create_table('handover_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handover_id', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=True),
    sa.Column('archive_number', sa.String(length=80), nullable=False),
    sa.Column('archive_name', sa.String(length=200), nullable=False),
    sa.Column('from_department_id', sa.Integer(), nullable=True),
    sa.Column('to_department_id', sa.Integer(), nullable=True),
    sa.Column('paper', sa.Boolean(), nullable=False),
    sa.Column('paper_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_handover_item_archive_id_archive'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['from_department_id'], ['department.id'], name=op.f('fk_handover_item_from_department_id_department')),
    sa.ForeignKeyConstraint(['handover_id'], ['handover.id'], name=op.f('fk_handover_item_handover_id_handover'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_department_id'], ['department.id'], name=op.f('fk_handover_item_to_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover_item'))
    )
    with op.batch_alter_table('handover_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handover_item_archive_id'), ['archive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_item_handover_id'), ['handover_id'], unique=False)


def downgrade():
    with op.batch_alter_table('handover_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handover_item_handover_id'))
        batch_op.drop_index(batch_op.f('ix_handover_item_archive_id'))
    op.drop_table('handover_item')
    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handover_status'))
        batch_op.drop_index(batch_op.f('ix_handover_receiver_id'))
        batch_op.drop_index(batch_op.f('ix_handover_giver_id'))
        batch_op.drop_index(batch_op.f('ix_handover_created_at'))
    op.drop_table('handover')
