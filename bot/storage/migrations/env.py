"""Alembic environment: StudyBot always passes an open connection (see bot/storage/migrate.py)."""

from __future__ import annotations

from alembic import context

from bot.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `studybot db upgrade`; it supplies the database connection.")

# Batch mode lets the same migration scripts alter tables on SQLite, which lacks most ALTER TABLE forms.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
