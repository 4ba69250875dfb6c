"""providers: sender numbers and provider delivery reports

Revision ID: cem_0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = "cem_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
