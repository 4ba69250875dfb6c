"""event add-on A: eva_contact

Revision ID: eva_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "eva_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "eva_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name="fk_eva_contact_customer_id_customer"),
        sa.PrimaryKeyConstraint("id", name="pk_eva_contact"),
    )


def downgrade():
    op.drop_table("eva_contact")
