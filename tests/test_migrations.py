"""`alembic upgrade head` gives exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import make_engine, schema_state, upgrade
from storage.models import Base


def test_migrations_match_the_models(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    current, head = schema_state(engine)
    engine.dispose()
    assert diff == []
    assert current == head


def test_the_sweep_and_outbox_indexes_are_partial(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND indexname IN ('ix_outbox_pending', 'ix_deadlines_next_step_at_due')"
            ).fetchall()
        else:
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE name IN "
                "('ix_outbox_pending', 'ix_deadlines_next_step_at_due')"
            ).fetchall()
    engine.dispose()
    definitions = {name: sql for name, sql in rows}
    pending = definitions["ix_outbox_pending"].replace("(", "").replace(")", "")
    assert "WHERE status" in pending.replace("::text", "") and "'pending'" in pending
    assert "IS NOT NULL" in definitions["ix_deadlines_next_step_at_due"]
