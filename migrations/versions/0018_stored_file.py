"""files: the core file store

``stored_file`` holds checked uploads (images and PDFs) in the database: the bytes, their SHA-256,
the sanitised name, the detected type and who uploaded them (portal/files, docs/platform/files.md).
Add-ons' attachment rows reference ``stored_file.id``.

Revision ID: 0018_stored_file
Revises: 0017_consent_notices
Create Date: 2026-12-07 18:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0018_stored_file'
down_revision = '0017_consent_notices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stored_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('mime', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'],
                                name=op.f('fk_stored_file_created_by_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_file')),
    )
    op.create_index('ix_stored_file_sha256', 'stored_file', ['sha256'], unique=False)


def downgrade():
    op.drop_index('ix_stored_file_sha256', table_name='stored_file')
    op.drop_table('stored_file')
