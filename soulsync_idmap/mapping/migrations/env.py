"""Alembic environment: runs on the connection the store hands over (no ini file)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from soulsync_idmap.mapping import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # pragma: no cover - the store always passes one
        raise RuntimeError("soulsync-idmap migrations run through IdMap/Store, not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
