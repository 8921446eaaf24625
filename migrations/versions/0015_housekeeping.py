"""housekeeping of staging data: when an intake item's page texts were cleared

Revision ID: 0015_housekeeping
Revises: 0014_oversight
Create Date: 2026-12-04 22:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_housekeeping'
down_revision = '0014_oversight'
branch_labels = None
depends_on = None


def upgrade():
    # portal.intake.models.IntakeItem.texts_cleared_at (portal.housekeeping): NULL = texts kept
    with op.batch_alter_table('intake_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('texts_cleared_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('intake_item', schema=None) as batch_op:
        batch_op.drop_column('texts_cleared_at')
