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
    pass


def downgrade():
    pass
