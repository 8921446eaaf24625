"""key vault references, backup register

Revision ID: 0011_backups
Revises: 0010_destruction
Create Date: 2026-12-04 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_backups'
down_revision = '0010_destruction'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
