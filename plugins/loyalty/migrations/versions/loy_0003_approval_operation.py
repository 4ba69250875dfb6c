"""loyalty: ``loy_approval.operation`` — an approval holds an adjustment or an API earn

Issue 13: a credit through ``POST /api/v1/loyalty/accounts/<id>/earn`` above the approval limit
waits for a second person like a manual adjustment; approving it then writes an ``earn`` entry
(which counts toward tiers), not an ``adjust``. Existing rows are adjustments.

Revision ID: loy_0003
Revises: loy_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "loy_0003"
down_revision = "loy_0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("loy_approval", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operation", sa.String(length=10), nullable=False, server_default="adjust"))


def downgrade():
    with op.batch_alter_table("loy_approval", schema=None) as batch_op:
        batch_op.drop_column("operation")
