"""archive list: covering indexes for counts and filter options

The archive list counts the archives a user may see (total and quick filters) and lists the
regions and industries among them. With 10,000 archives these scans read the whole archive
table (≈ 5–40 ms each on SQLite); with these indexes they read only the index (≈ 1 ms).

Revision ID: 0002_archive_list_indexes
Revises: 0001
Create Date: 2026-11-23 13:30:00

"""
from alembic import op


revision = '0002_archive_list_indexes'
down_revision = '0001'
branch_labels = None
depends_on = None

VISIBILITY = ['sensitivity', 'department_id', 'responsible_id', 'created_by_id']


def upgrade():
    with op.batch_alter_table('archive', schema=None) as batch_op:
        batch_op.create_index('ix_archive_visibility', VISIBILITY + ['status'], unique=False)
        batch_op.create_index('ix_archive_region_visible', ['region'] + VISIBILITY, unique=False)
        batch_op.create_index('ix_archive_industry_visible', ['industry'] + VISIBILITY, unique=False)


def downgrade():
    with op.batch_alter_table('archive', schema=None) as batch_op:
        batch_op.drop_index('ix_archive_industry_visible')
        batch_op.drop_index('ix_archive_region_visible')
        batch_op.drop_index('ix_archive_visibility')
