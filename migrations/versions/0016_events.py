"""events: failed add-on reactions kept for retry

Revision ID: 0016_events
Revises: 0015_experiments
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016_events'
down_revision = '0015_experiments'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
