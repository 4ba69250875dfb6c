"""workflow: states, history and revision-bound approvals

Revision ID: 0013_workflow
Revises: 0012_messaging
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_workflow'
down_revision = '0012_messaging'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
