"""monthly checks, reminders

Revision ID: 0014_oversight
Revises: 0013_inspection
Create Date: 2026-12-04 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_oversight'
down_revision = '0013_inspection'
branch_labels = None
depends_on = None


def upgrade():
    # monthly checks 月度检查 by the responsible staff (portal.oversight.models.MonthlyCheck)
    op.create_table('monthly_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('checked_by_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.Column('checked_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_monthly_check_archive_id_archive'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['checked_by_id'], ['user_account.id'], name=op.f('fk_monthly_check_checked_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_check')),
    sa.UniqueConstraint('archive_id', 'month', name='uq_monthly_check_archive_month')
    )
    with op.batch_alter_table('monthly_check', schema=None) as batch_op:
        batch_op.create_index('ix_monthly_check_month', ['month'], unique=False)

    # reminders already sent by `portal remind` (portal.oversight.models.ReminderSent)
    op.create_table('reminder_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_reminder_sent_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_sent')),
    sa.UniqueConstraint('user_id', 'key', name='uq_reminder_sent_user_key')
    )

    # 下次跟进日期 of a communication (portal.archives.models.Communication.follow_up_on)
    with op.batch_alter_table('archive_communication', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('archive_communication', schema=None) as batch_op:
        batch_op.drop_column('follow_up_on')
    op.drop_table('reminder_sent')
    with op.batch_alter_table('monthly_check', schema=None) as batch_op:
        batch_op.drop_index('ix_monthly_check_month')
    op.drop_table('monthly_check')
