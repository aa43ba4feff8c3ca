"""Alembic environment: migrations run against the URL markwatch passes in."""

from alembic import context
from sqlalchemy import pool

from crawler import db
from crawler.models import Base

config = context.config
url = config.attributes.get("url") or db.database_url(None)
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = db.engine_for(url)
        with engine.connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True,
                              poolclass=pool.NullPool)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
    else:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
