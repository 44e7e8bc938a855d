"""Persistence: SQLAlchemy tables, engines and migrations. Postgres is the
reference database; SQLite is the embedded default for a first run."""
