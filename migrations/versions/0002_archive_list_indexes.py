"""archive list: covering indexes for the filter options and counts

The archive list shows the regions and industries among the archives the user may see and counts
those archives (total, quick filters by status and responsible staff). With 10,000 archives each
of these read the whole archive table on SQLite (5–40 ms each); with these indexes they read only
an index (≈ 1–3 ms): the DISTINCT queries use them directly, and SQLite picks the narrower index
for the counts.

Note for later tuning: do not ANALYZE the SQLite database without re-measuring the active search
(``bench/bench_pages.py``): with statistics SQLite skip-scans these indexes for the search's
LIKE query, which is ~2× slower than the plain table scan it uses now.

Revision ID: 0002_archive_list_indexes
Revises: 0001
Create Date: 2026-11-23 13:30:00

"""
from alembic import op


revision = '0002_archive_list_indexes'
down_revision = '0001'
branch_labels = None
depends_on = None

# the columns of permissions.visible_clause, and status for the quick-filter counts
COVERED = ['sensitivity', 'department_id', 'responsible_id', 'created_by_id', 'status']


def upgrade():
    with op.batch_alter_table('archive', schema=None) as batch_op:
        batch_op.create_index('ix_archive_region_visible', ['region'] + COVERED, unique=False)
        batch_op.create_index('ix_archive_industry_visible', ['industry'] + COVERED, unique=False)


def downgrade():
    with op.batch_alter_table('archive', schema=None) as batch_op:
        batch_op.drop_index('ix_archive_industry_visible')
        batch_op.drop_index('ix_archive_region_visible')
