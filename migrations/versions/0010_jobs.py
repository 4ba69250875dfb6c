"""jobs: run records of periodic and manual jobs (Huey keeps its own queue)

Revision ID: 0010_jobs
Revises: 0009_extraction_states
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010_jobs'
down_revision = '0009_extraction_states'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
