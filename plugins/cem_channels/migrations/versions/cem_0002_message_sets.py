"""one voice: message sets, renditions and banned terms

Revision ID: cem_0002
Revises: cem_0001
"""
from alembic import op
import sqlalchemy as sa


revision = "cem_0002"
down_revision = 'cem_0001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
