"""customer fillfactor 70 on PostgreSQL: room on each page for the next version of its rows

Customer rows are rewritten in bulk by columns no index covers (the loyalty tier mirror moves
hundreds of thousands of them on a first catch-up, flags and notes one by one). With free room on
the page PostgreSQL keeps such an update heap-only (HOT): no new entry in each of the table's
twelve indexes. Measured on 1,000,000 customers, 444,445 tier updates: 17.0 s with full pages,
2.2 s at fillfactor 70 (docs/performance.md). The heap grows by about 40 %; list pages read the
index-only ``ix_customer_name_id`` and do not notice.

The setting applies to pages written from now on; ``VACUUM FULL customer`` (an exclusive lock
for the rewrite) applies it to an existing table at once. SQLite has no such setting.

Revision ID: 0007_customer_fillfactor
Revises: 0006_security_epoch
Create Date: 2026-11-22 18:00:00

"""
from alembic import op

revision = '0007_customer_fillfactor'
down_revision = '0006_security_epoch'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE customer SET (fillfactor = 70)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE customer RESET (fillfactor)')
