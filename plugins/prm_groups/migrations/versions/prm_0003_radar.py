"""radar: reserved for the weak-category radar's aggregate (no tables yet)

Revision ID: prm_0003
Revises: prm_0002
"""


revision = "prm_0003"
down_revision = "prm_0002"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
