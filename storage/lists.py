"""`column IN (a list given at execution)`, one statement text whatever the list's length.

SQLAlchemy's expanding `IN` renders one placeholder per item, so a list of 3 and a list of 4
are two statements to PostgreSQL: each length is parsed and planned anew, and psycopg, which
prepares a statement once it has seen its text a few times, never does. On PostgreSQL these
render `column = ANY(:name)` with one array parameter instead; elsewhere the expanding `IN`.
Either way the parameter is a Python list, and an empty list matches nothing (`in_list`) or
everything (`not_in_list`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, all_, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class _InList(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("name", InternalTraversal.dp_string),
                           ("negated", InternalTraversal.dp_boolean)]

    def __init__(self, column: ColumnElement[Any], name: str, negated: bool) -> None:
        # an ORM attribute (Signal.id) becomes its column
        self.column = coercions.expect(roles.ExpressionElementRole, column)
        self.name, self.negated = name, negated


def in_list(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`column` is one of the list bound to `name` at execution."""
    return _InList(column, name, negated=False)


def not_in_list(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`column` is none of the list bound to `name` at execution."""
    return _InList(column, name, negated=True)


@compiles(_InList)
def _expanding(element: _InList, compiler, **kw) -> str:
    param = bindparam(element.name, expanding=True)
    clause = element.column.not_in(param) if element.negated else element.column.in_(param)
    return compiler.process(clause, **kw)


@compiles(_InList, "postgresql")
def _array(element: _InList, compiler, **kw) -> str:
    param = bindparam(element.name, type_=ARRAY(element.column.type))
    clause = element.column != all_(param) if element.negated else element.column == any_(param)
    return compiler.process(clause, **kw)
