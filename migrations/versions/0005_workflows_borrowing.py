"""working-day calendar overrides, notifications, borrowing of paper files

Revision ID: 0005_workflows_borrowing
Revises: 0004_search
Create Date: 2026-11-23 18:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_workflows_borrowing'
down_revision = '0004_search'
branch_labels = None
depends_on = None


def upgrade():
    # administrator entries of the working-day calendar (portal.workcal)
    op.create_table('calendar_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_calendar_day_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_day')),
    sa.UniqueConstraint('day', name=op.f('uq_calendar_day_day'))
    )

    # notifications (portal.notifications)
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_user_unread', ['user_id', 'read_at'], unique=False)

    op.create_table('notification_address',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_address_user_id_user_account')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_address'))
    )

    # loans of paper files (portal.workflows.borrowing_models)
    op.create_table('loan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('borrower_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('period_days', sa.Integer(), nullable=False),
    sa.Column('pickup_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('first_step', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('head_by_id', sa.Integer(), nullable=True),
    sa.Column('head_at', sa.DateTime(), nullable=True),
    sa.Column('head_note', sa.Text(), nullable=False),
    sa.Column('archivist_by_id', sa.Integer(), nullable=True),
    sa.Column('archivist_at', sa.DateTime(), nullable=True),
    sa.Column('archivist_note', sa.Text(), nullable=False),
    sa.Column('reject_reason', sa.Text(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('lent_at', sa.DateTime(), nullable=True),
    sa.Column('lent_by_id', sa.Integer(), nullable=True),
    sa.Column('handover_note', sa.String(length=300), nullable=False),
    sa.Column('lend_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('original_due_date', sa.Date(), nullable=True),
    sa.Column('extension_status', sa.String(length=10), nullable=False),
    sa.Column('extension_days', sa.Integer(), nullable=True),
    sa.Column('extension_reason', sa.Text(), nullable=False),
    sa.Column('extension_requested_at', sa.DateTime(), nullable=True),
    sa.Column('extension_by_id', sa.Integer(), nullable=True),
    sa.Column('extension_decided_at', sa.DateTime(), nullable=True),
    sa.Column('extension_note', sa.Text(), nullable=False),
    sa.Column('returned_at', sa.DateTime(), nullable=True),
    sa.Column('returned_by_id', sa.Integer(), nullable=True),
    sa.Column('return_condition', sa.String(length=20), nullable=False),
    sa.Column('return_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['archivist_by_id'], ['user_account.id'], name=op.f('fk_loan_archivist_by_id_user_account')),
    sa.ForeignKeyConstraint(['borrower_id'], ['user_account.id'], name=op.f('fk_loan_borrower_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_loan_department_id_department')),
    sa.ForeignKeyConstraint(['extension_by_id'], ['user_account.id'], name=op.f('fk_loan_extension_by_id_user_account')),
    sa.ForeignKeyConstraint(['head_by_id'], ['user_account.id'], name=op.f('fk_loan_head_by_id_user_account')),
    sa.ForeignKeyConstraint(['lent_by_id'], ['user_account.id'], name=op.f('fk_loan_lent_by_id_user_account')),
    sa.ForeignKeyConstraint(['returned_by_id'], ['user_account.id'], name=op.f('fk_loan_returned_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan'))
    )
    with op.batch_alter_table('loan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_borrower_id'), ['borrower_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_due_date'), ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_status'), ['status'], unique=False)

    op.create_table('loan_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_event_loan_id_loan')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_loan_event_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_event'))
    )
    with op.batch_alter_table('loan_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_event_loan_id'), ['loan_id'], unique=False)

    op.create_table('loan_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_loan_item_archive_id_archive')),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_item_loan_id_loan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_item')),
    sa.UniqueConstraint('loan_id', 'archive_id', name='uq_loan_item_archive')
    )
    with op.batch_alter_table('loan_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_item_archive_id'), ['archive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_item_loan_id'), ['loan_id'], unique=False)

    op.create_table('loan_reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_reminder_loan_id_loan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_reminder')),
    sa.UniqueConstraint('loan_id', 'day', name='uq_loan_reminder_day')
    )


def downgrade():
    op.drop_table('loan_reminder')
    with op.batch_alter_table('loan_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_item_loan_id'))
        batch_op.drop_index(batch_op.f('ix_loan_item_archive_id'))

    op.drop_table('loan_item')
    with op.batch_alter_table('loan_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_event_loan_id'))

    op.drop_table('loan_event')
    with op.batch_alter_table('loan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_status'))
        batch_op.drop_index(batch_op.f('ix_loan_due_date'))
        batch_op.drop_index(batch_op.f('ix_loan_department_id'))
        batch_op.drop_index(batch_op.f('ix_loan_created_at'))
        batch_op.drop_index(batch_op.f('ix_loan_borrower_id'))

    op.drop_table('loan')
    op.drop_table('notification_address')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_user_unread')

    op.drop_table('notification')
    op.drop_table('calendar_day')
