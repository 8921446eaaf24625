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
    pass


def downgrade():
    pass
