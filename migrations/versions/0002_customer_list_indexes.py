"""customer list indexes: one covering index for name order and the scope columns

The customer list is ordered by (name, id) and filtered by the scope (branch_id / partner_id).
``ix_customer_name_id`` (name, id) INCLUDE (branch_id, partner_id) lets PostgreSQL find the ids
of any page with an index-only scan — the rows themselves are then read by primary key
(``portal.pagination.paginate(..., key=Customer.id)``) — and serves name-prefix search, so it
replaces the plain ``ix_customer_name``. SQLite has no INCLUDE and gets (name, id).
Measured in docs/performance.md (issue 2).

Revision ID: 0002_customer_list_indexes
Revises: 0001_core
Create Date: 2026-11-22 10:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002_customer_list_indexes'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index('ix_customer_name_id', ['name', 'id'], unique=False,
                              postgresql_include=['branch_id', 'partner_id'])
        batch_op.drop_index('ix_customer_name')


def downgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index('ix_customer_name', ['name'], unique=False)
        batch_op.drop_index('ix_customer_name_id')
