"""knowledge_share: the text index of the search documents — on SQLite a contentless FTS5 table
ks_search_fts(title, body) kept in step with ks_search_doc by triggers; on PostgreSQL GIN indexes
over to_tsvector('simple', terms) and over its title line

Revision ID: ks_0002
Revises: ks_0001
"""
from alembic import op

revision = "ks_0002"
down_revision = "ks_0001"
branch_labels = None
depends_on = None

# ks_search_doc.terms is "<title terms>\n<body and tag terms>" (search/index.py): the triggers
# split it at the newline into the FTS5 columns title and body.
SQLITE_UP = [
    # contentless (the terms live in ks_search_doc), detail=column: no positions (the search
    # matches terms, not phrases), a smaller index
    "CREATE VIRTUAL TABLE ks_search_fts USING fts5(title, body, content='', detail=column, "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER ks_search_fts_ai AFTER INSERT ON ks_search_doc BEGIN "
    "INSERT INTO ks_search_fts(rowid, title, body) VALUES (new.story_id, CASE WHEN instr(new.terms, char(10)) > 0 THEN substr(new.terms, 1, instr(new.terms, char(10)) - 1) ELSE new.terms END, CASE WHEN instr(new.terms, char(10)) > 0 THEN substr(new.terms, instr(new.terms, char(10)) + 1) ELSE '' END); END",
    "CREATE TRIGGER ks_search_fts_ad AFTER DELETE ON ks_search_doc BEGIN "
    "INSERT INTO ks_search_fts(ks_search_fts, rowid, title, body) VALUES ('delete', old.story_id, CASE WHEN instr(old.terms, char(10)) > 0 THEN substr(old.terms, 1, instr(old.terms, char(10)) - 1) ELSE old.terms END, CASE WHEN instr(old.terms, char(10)) > 0 THEN substr(old.terms, instr(old.terms, char(10)) + 1) ELSE '' END); END",
    "CREATE TRIGGER ks_search_fts_au AFTER UPDATE OF terms ON ks_search_doc BEGIN "
    "INSERT INTO ks_search_fts(ks_search_fts, rowid, title, body) VALUES ('delete', old.story_id, CASE WHEN instr(old.terms, char(10)) > 0 THEN substr(old.terms, 1, instr(old.terms, char(10)) - 1) ELSE old.terms END, CASE WHEN instr(old.terms, char(10)) > 0 THEN substr(old.terms, instr(old.terms, char(10)) + 1) ELSE '' END); "
    "INSERT INTO ks_search_fts(rowid, title, body) VALUES (new.story_id, CASE WHEN instr(new.terms, char(10)) > 0 THEN substr(new.terms, 1, instr(new.terms, char(10)) - 1) ELSE new.terms END, CASE WHEN instr(new.terms, char(10)) > 0 THEN substr(new.terms, instr(new.terms, char(10)) + 1) ELSE '' END); END",
    "INSERT INTO ks_search_fts(rowid, title, body) SELECT story_id, "
    "CASE WHEN instr(ks_search_doc.terms, char(10)) > 0 THEN substr(ks_search_doc.terms, 1, instr(ks_search_doc.terms, char(10)) - 1) ELSE ks_search_doc.terms END, "
    "CASE WHEN instr(ks_search_doc.terms, char(10)) > 0 THEN substr(ks_search_doc.terms, instr(ks_search_doc.terms, char(10)) + 1) ELSE '' END FROM ks_search_doc",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS ks_search_fts_au",
    "DROP TRIGGER IF EXISTS ks_search_fts_ad",
    "DROP TRIGGER IF EXISTS ks_search_fts_ai",
    "DROP TABLE IF EXISTS ks_search_fts",
]
PG_UP = [
    "CREATE INDEX ix_ks_search_doc_tsv ON ks_search_doc USING gin (to_tsvector('simple'::regconfig, terms))",
    "CREATE INDEX ix_ks_search_doc_title_tsv ON ks_search_doc "
    "USING gin (to_tsvector('simple'::regconfig, split_part(terms, chr(10), 1)))",
]
PG_DOWN = ["DROP INDEX IF EXISTS ix_ks_search_doc_title_tsv", "DROP INDEX IF EXISTS ix_ks_search_doc_tsv"]


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
