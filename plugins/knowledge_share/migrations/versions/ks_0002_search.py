"""knowledge_share: the text index of the search documents — SQLite FTS5 table ks_search_fts kept
in step with ks_search_doc by triggers; PostgreSQL GIN index over to_tsvector('simple', terms)

Revision ID: ks_0002
Revises: ks_0001
"""
from alembic import op

revision = "ks_0002"
down_revision = "ks_0001"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE ks_search_fts USING fts5(terms, content='ks_search_doc', content_rowid='story_id', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER ks_search_fts_ai AFTER INSERT ON ks_search_doc BEGIN "
    "INSERT INTO ks_search_fts(rowid, terms) VALUES (new.story_id, new.terms); END",
    "CREATE TRIGGER ks_search_fts_ad AFTER DELETE ON ks_search_doc BEGIN "
    "INSERT INTO ks_search_fts(ks_search_fts, rowid, terms) VALUES ('delete', old.story_id, old.terms); END",
    "CREATE TRIGGER ks_search_fts_au AFTER UPDATE ON ks_search_doc BEGIN "
    "INSERT INTO ks_search_fts(ks_search_fts, rowid, terms) VALUES ('delete', old.story_id, old.terms); "
    "INSERT INTO ks_search_fts(rowid, terms) VALUES (new.story_id, new.terms); END",
    "INSERT INTO ks_search_fts(ks_search_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS ks_search_fts_au",
    "DROP TRIGGER IF EXISTS ks_search_fts_ad",
    "DROP TRIGGER IF EXISTS ks_search_fts_ai",
    "DROP TABLE IF EXISTS ks_search_fts",
]
PG_UP = ["CREATE INDEX ix_ks_search_doc_tsv ON ks_search_doc USING gin (to_tsvector('simple'::regconfig, terms))"]
PG_DOWN = ["DROP INDEX IF EXISTS ix_ks_search_doc_tsv"]


def _run(statements):
    for sql in statements:
        op.execute(sql)


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_UP)
    elif dialect == "postgresql":
        _run(PG_UP)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DOWN)
    elif dialect == "postgresql":
        _run(PG_DOWN)
