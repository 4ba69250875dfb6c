"""messaging: one outbox for every channel

Revision ID: 0012_messaging
Revises: 0011_contact
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012_messaging'
down_revision = '0011_contact'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
