"""experiments: assignments, global control group, frozen results

Revision ID: 0015_experiments
Revises: 0014_notifications
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015_experiments'
down_revision = '0014_notifications'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
