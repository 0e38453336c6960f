"""`storage.lists`: a list parameter matches as `IN` would, on both databases, and on
PostgreSQL keeps one statement text whatever the list's length (issue 16: each new text is
parsed and planned anew, and never prepared)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, select

from storage.db import make_engine
from storage.lists import in_list, not_in_list
from storage.models import Person

ROWS = Table("list_rows", MetaData(), Column("id", Integer, primary_key=True),
             Column("lane", String(10)))
LISTS = ([], [2], [1, 3, 99], list(range(40)))


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    ROWS.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(ROWS.insert(), [{"id": n, "lane": f"D{n}"} for n in range(1, 6)]
                     + [{"id": 9, "lane": None}])
    yield engine
    engine.dispose()


def _texts(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_list_matches_as_in_and_not_in_would(engine):
    chosen = select(ROWS.c.id).where(in_list(ROWS.c.id, "ids")).order_by(ROWS.c.id)
    spared = select(ROWS.c.id).where(not_in_list(ROWS.c.lane, "lanes")).order_by(ROWS.c.id)
    with engine.connect() as conn:
        for ids in LISTS:
            expected = conn.scalars(select(ROWS.c.id).where(ROWS.c.id.in_(ids))
                                    .order_by(ROWS.c.id)).all()
            assert conn.scalars(chosen, {"ids": ids}).all() == expected
        assert conn.scalars(spared, {"lanes": []}).all() == [1, 2, 3, 4, 5, 9]
        assert conn.scalars(spared, {"lanes": ["D1", "D2"]}).all() == [3, 4, 5]


def test_one_statement_text_on_postgresql_whatever_the_length(engine):
    chosen = select(ROWS.c.id).where(in_list(ROWS.c.id, "ids"))
    texts = _texts(engine)
    with engine.connect() as conn:
        for ids in LISTS:
            conn.execute(chosen, {"ids": ids})
    distinct = len(set(texts))
    assert distinct == (1 if engine.dialect.name == "postgresql" else len(LISTS)), texts


def test_an_orm_attribute_is_its_column(engine):
    statement = select(Person.slack_id).where(in_list(Person.slack_id, "ids"))
    assert "people.slack_id" in str(statement.compile(engine))
