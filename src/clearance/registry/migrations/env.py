"""Alembic environment: migrations always run on a connection handed in by Clearance.

There is no alembic.ini; ``clearance.registry.migrate`` builds the config in
code and passes the open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
