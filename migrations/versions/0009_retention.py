"""retention rules, termination reviews, holds

Revision ID: 0009_retention
Revises: 0008_intake
Create Date: 2026-12-04 19:30:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_retention'
down_revision = '0008_intake'
branch_labels = None
depends_on = None

# The policy's default (004 §14: review within 6 months of termination; §17 and 000 §7:
# destruction allowed once cooperation ended 3 years ago).
DEFAULT_NOTE = ("制度004第十四条：终止合作后6个月内梳理复核，有留存必要的归档为“终止合作客户档案”；"
                "制度004第十七条、制度000第7条：终止合作满3年且无留存必要的，可按流程销毁。")


def upgrade():
    rule = op.create_table('retention_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('classification', sa.String(length=120), nullable=False),
    sa.Column('customer_type_id', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=True),
    sa.Column('doc_type', sa.String(length=40), nullable=True),
    sa.Column('review_months', sa.Integer(), nullable=False),
    sa.Column('retain_years', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_type_id'], ['customer_type.id'], name=op.f('fk_retention_rule_customer_type_id_customer_type')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_retention_rule_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_rule')),
    sa.UniqueConstraint('classification', name=op.f('uq_retention_rule_classification'))
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(rule, [{
        'id': 1, 'classification': '*|*|*', 'customer_type_id': None, 'stage': None, 'doc_type': None,
        'review_months': 6, 'retain_years': 3, 'note': DEFAULT_NOTE, 'is_default': True,
        'created_at': now, 'updated_at': now, 'updated_by_id': None,
    }])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("SELECT setval(pg_get_serial_sequence('retention_rule', 'id'), 1)")

    op.create_table('retention_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('next_review_on', sa.Date(), nullable=True),
    sa.Column('eligible_on', sa.Date(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_retention_review_archive_id_archive'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_retention_review_decided_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_review'))
    )
    with op.batch_alter_table('retention_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_review_archive_id'), ['archive_id'], unique=False)

    op.create_table('retention_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('archive_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=False),
    sa.Column('placed_at', sa.DateTime(), nullable=False),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['archive_id'], ['archive.id'], name=op.f('fk_retention_hold_archive_id_archive'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['user_account.id'], name=op.f('fk_retention_hold_lifted_by_id_user_account')),
    sa.ForeignKeyConstraint(['placed_by_id'], ['user_account.id'], name=op.f('fk_retention_hold_placed_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_hold'))
    )
    with op.batch_alter_table('retention_hold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_hold_archive_id'), ['archive_id'], unique=False)
        # at most one active hold per archive (a second manager's concurrent hold is refused)
        batch_op.create_index('uq_retention_hold_active', ['archive_id'], unique=True,
                              sqlite_where=sa.text('lifted_at IS NULL'),
                              postgresql_where=sa.text('lifted_at IS NULL'))


def downgrade():
    with op.batch_alter_table('retention_hold', schema=None) as batch_op:
        batch_op.drop_index('uq_retention_hold_active')
        batch_op.drop_index(batch_op.f('ix_retention_hold_archive_id'))
    op.drop_table('retention_hold')
    with op.batch_alter_table('retention_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_review_archive_id'))
    op.drop_table('retention_review')
    op.drop_table('retention_rule')
