"""notifications: in-app inbox, preferences, de-duplication

Revision ID: 0014_notifications
Revises: 0013_workflow
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014_notifications'
down_revision = '0013_workflow'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
