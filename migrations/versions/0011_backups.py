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
    # The archive's data key is wrapped by a key-encryption key in the key vault (outside the
    # database and the backups); rows without it are wrapped by the master key (legacy, moved by
    # `portal keys migrate`, by `portal backup` and by the next upload).
    with op.batch_alter_table('archive_key') as batch:
        batch.add_column(sa.Column('vault_key_id', sa.String(length=32), nullable=True))

    op.create_table(
        'backup_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('username', sa.String(length=80), nullable=False),
        sa.Column('host', sa.String(length=200), nullable=False),
        sa.Column('location', sa.String(length=1000), nullable=False),
        sa.Column('manifest_hash', sa.String(length=64), nullable=False),
        sa.Column('tables', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('archives', sa.Integer(), nullable=False),
        sa.Column('documents', sa.Integer(), nullable=False),
        sa.Column('objects', sa.Integer(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('result', sa.String(length=10), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_backup_run_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_backup_run')),
    )
    op.create_index(op.f('ix_backup_run_kind'), 'backup_run', ['kind'])
    op.create_index(op.f('ix_backup_run_started_at'), 'backup_run', ['started_at'])


def downgrade():
    op.drop_index(op.f('ix_backup_run_started_at'), table_name='backup_run')
    op.drop_index(op.f('ix_backup_run_kind'), table_name='backup_run')
    op.drop_table('backup_run')
    with op.batch_alter_table('archive_key') as batch:
        batch.drop_column('vault_key_id')
