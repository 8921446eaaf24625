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
    pass


def downgrade():
    pass
