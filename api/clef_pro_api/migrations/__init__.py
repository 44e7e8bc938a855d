"""Alembic migrations; run them with ``clef-pro migrate``."""
