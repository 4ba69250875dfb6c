"""consent lifecycle: 080 opt-out imports, global suppression list, inbound replies

Revision ID: cem_0003
Revises: cem_0002
"""
from alembic import op
import sqlalchemy as sa


revision = "cem_0003"
down_revision = 'cem_0002'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
