"""sample plugin: smp_note

Revision ID: smp_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "smp_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "smp_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name="fk_smp_note_customer_id_customer"),
        sa.PrimaryKeyConstraint("id", name="pk_smp_note"),
    )


def downgrade():
    op.drop_table("smp_note")
