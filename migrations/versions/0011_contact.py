"""consent and contact: contact history, consent event kinds, channel registry

Revision ID: 0011_contact
Revises: 0010_jobs
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011_contact'
down_revision = '0010_jobs'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
