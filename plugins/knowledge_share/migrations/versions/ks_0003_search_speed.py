"""knowledge_share: search speed on PostgreSQL — a STORED tsvector column ks_search_doc.tsv with
its GIN index (same name) replaces the GIN expression index over to_tsvector('simple', terms)

The planner had no statistics for the expression and priced rebuilding a tsvector per row far too
low: for a common word it scanned the table rebuilding every tsvector (seconds) unless told
``enable_seqscan off``. A stored column has real statistics and a per-row ``tsv @@ q`` that costs
a comparison, so the planner chooses between the GIN bitmap (rare words) and a walk of the stories
newest first (common words) by itself; a partial index of the published base stories in the
search's order (published_at DESC, id DESC) makes that walk one the planner can price. The column exists in this migration only (like the FTS5
table on SQLite): the application never writes it, PostgreSQL computes it. SQLite: nothing.

Revision ID: ks_0003
Revises: ks_0002
"""
from alembic import op

revision = "ks_0003"
down_revision = "ks_0002"
branch_labels = None
depends_on = None

PG_UP = [
    "ALTER TABLE ks_search_doc ADD COLUMN tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, terms)) STORED",
    "DROP INDEX IF EXISTS ix_ks_search_doc_tsv",
    "CREATE INDEX ix_ks_search_doc_tsv ON ks_search_doc USING gin (tsv)",
    # the published base stories newest first, exactly the search's order: a common word's page
    # walks it and stops after 20 hits (ix_ks_story_list needs an extra sort for the id tiebreak,
    # so the planner read every visible story instead: 520 ms)
    "CREATE INDEX ix_ks_story_published ON ks_story (published_at DESC, id DESC) "
    "WHERE state = 'published' AND base_id IS NULL",
    "ANALYZE ks_search_doc",
    "ANALYZE ks_story",
]
PG_DOWN = [
    "DROP INDEX IF EXISTS ix_ks_story_published",
    "DROP INDEX IF EXISTS ix_ks_search_doc_tsv",
    "ALTER TABLE ks_search_doc DROP COLUMN IF EXISTS tsv",
    "CREATE INDEX ix_ks_search_doc_tsv ON ks_search_doc USING gin (to_tsvector('simple'::regconfig, terms))",
]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for sql in PG_UP:
            op.execute(sql)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for sql in PG_DOWN:
            op.execute(sql)
