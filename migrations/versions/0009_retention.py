"""retention rules, termination reviews, holds

Revision ID: 0009_retention
Revises: 0008_intake
Create Date: 2026-12-04 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_retention'
down_revision = '0008_intake'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
