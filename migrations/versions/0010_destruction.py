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
    pass


def downgrade():
    pass
