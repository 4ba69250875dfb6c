"""customer name suffixes: search by any part of a name ("지호" finds 김지호), kept by triggers

``customer_name_suffix`` holds every suffix of each customer's name, case-folded (A–Z → a–z,
the same on both databases: SQLite's ``lower`` folds ASCII only, so PostgreSQL uses
``translate`` with the same 26 letters). Any substring is a prefix of some suffix, so the search
is an index range scan on ``(suffix, customer_id)`` even for a two-character query, which
trigram indexes cannot serve.

Triggers keep it in step on every write path — ORM writes, the importer's bulk inserts and COPY,
the merge (the duplicate's row is deleted: the foreign key cascades), pseudonymization (the name
is overwritten: the old suffixes are deleted with it, so an erased customer cannot be found by
the old name):

* PostgreSQL: one statement-level ``AFTER INSERT`` trigger over the transition table (a bulk
  insert of a million customers adds their suffixes in one set-based statement) and a row-level
  ``AFTER UPDATE OF name … WHEN (OLD.name IS DISTINCT FROM NEW.name)`` trigger (updates that do
  not set the name — tier mirror, totals — never call it); deletes cascade.
* SQLite: row-level triggers (no statement-level ones there; a trigger may not use a CTE, so the
  positions 0..n-1 are the keys of ``json_each`` over a JSON array of n zeros, built from
  ``zeroblob(n)``); a delete trigger as well,
  because bulk loads run with foreign keys off.

Existing customers are backfilled with one ``INSERT … SELECT`` before the search index is built.

Revision ID: 0008_customer_name_suffix
Revises: 0007_customer_fillfactor
Create Date: 2026-12-07 07:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008_customer_name_suffix'
down_revision = '0007_customer_fillfactor'
branch_labels = None
depends_on = None

UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
# Folded name and the positions of its suffixes, per dialect (``{n}`` is the row alias).
PG_SUFFIXES = ("SELECT {n}.id, substr(translate({n}.name, '%s', '%s'), p) "
               "FROM {src} CROSS JOIN LATERAL generate_series(1, char_length({n}.name)) AS p" % (UPPER, UPPER.lower()))
SQLITE_POSITIONS = "json_each('[' || substr(replace(hex(zeroblob(length({n}.name))), '00', ',0'), 2) || ']')"
SQLITE_SUFFIXES = "SELECT {n}.id, substr(lower({n}.name), pos.key + 1) FROM {src}, " + SQLITE_POSITIONS + " AS pos"


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.create_table('customer_name_suffix',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('suffix', sa.String(length=120).with_variant(sa.String(length=120, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_name_suffix_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'suffix', name=op.f('pk_customer_name_suffix'))
    )
    insert = "INSERT INTO customer_name_suffix (customer_id, suffix) "
    if postgres:
        op.execute(insert + PG_SUFFIXES.format(n='c', src='customer AS c') + " WHERE c.name <> ''")
    else:
        op.execute(insert + SQLITE_SUFFIXES.format(n='c', src='customer AS c') + " WHERE c.name <> ''")
    op.create_index('ix_customer_name_suffix_suffix', 'customer_name_suffix', ['suffix', 'customer_id'], unique=False)

    if postgres:
        op.execute(f"""CREATE FUNCTION portal_customer_name_suffix_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              {insert} {PG_SUFFIXES.format(n='n', src='new_customers AS n')} WHERE n.name <> '';
              RETURN NULL;
            END $$""")
        op.execute(f"""CREATE FUNCTION portal_customer_name_suffix_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              DELETE FROM customer_name_suffix WHERE customer_id = OLD.id;
              {insert} {PG_SUFFIXES.format(n='n', src='(SELECT NEW.id, NEW.name) AS n(id, name)')} WHERE n.name <> '';
              RETURN NULL;
            END $$""")
        op.execute("CREATE TRIGGER trg_customer_name_suffix_insert AFTER INSERT ON customer "
                   "REFERENCING NEW TABLE AS new_customers FOR EACH STATEMENT "
                   "EXECUTE FUNCTION portal_customer_name_suffix_inserted()")
        op.execute("CREATE TRIGGER trg_customer_name_suffix_update AFTER UPDATE OF name ON customer "
                   "FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) "
                   "EXECUTE FUNCTION portal_customer_name_suffix_renamed()")
    else:
        new_rows = SQLITE_SUFFIXES.format(n='NEW', src='(SELECT 1)') + " WHERE NEW.name <> ''"
        op.execute(f"CREATE TRIGGER trg_customer_name_suffix_insert AFTER INSERT ON customer "
                   f"BEGIN {insert} {new_rows}; END")
        op.execute(f"CREATE TRIGGER trg_customer_name_suffix_update AFTER UPDATE OF name ON customer "
                   f"WHEN OLD.name IS NOT NEW.name "
                   f"BEGIN DELETE FROM customer_name_suffix WHERE customer_id = OLD.id; {insert} {new_rows}; END")
        op.execute("CREATE TRIGGER trg_customer_name_suffix_delete AFTER DELETE ON customer "
                   "BEGIN DELETE FROM customer_name_suffix WHERE customer_id = OLD.id; END")


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    for event in ('insert', 'update', 'delete'):
        op.execute(f'DROP TRIGGER IF EXISTS trg_customer_name_suffix_{event}' + (' ON customer' if postgres else ''))
    if postgres:
        op.execute('DROP FUNCTION IF EXISTS portal_customer_name_suffix_inserted()')
        op.execute('DROP FUNCTION IF EXISTS portal_customer_name_suffix_renamed()')
    op.drop_index('ix_customer_name_suffix_suffix', table_name='customer_name_suffix')
    op.drop_table('customer_name_suffix')
