"""consent lifecycle: 080 opt-out imports, global suppression list, inbound replies

Revision ID: cem_0003
Revises: cem_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "cem_0003"
down_revision = 'cem_0002'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "cem_suppressed_number",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("number", name="uq_cem_suppressed_number_number"),
    )
    op.create_table(
        "cem_inbound_reply",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("customer_id", BIGID, nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by", BIGID, nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_cem_inbound_reply_number", "cem_inbound_reply", ["number"])
    op.create_index("ix_cem_inbound_reply_customer_id", "cem_inbound_reply", ["customer_id"])
    op.create_index("ix_cem_inbound_reply_status", "cem_inbound_reply", ["status", "received_at"])


def downgrade():
    op.drop_table("cem_inbound_reply")
    op.drop_table("cem_suppressed_number")
