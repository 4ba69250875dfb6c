"""Korean search: bigram-expanded terms per story, SQLite FTS5 / PostgreSQL tsvector, scoped in SQL."""
