"""Many rows in one statement, whatever their number.

On PostgreSQL the rows travel as one JSON parameter, read back with `json_to_recordset`:
one statement, parsed and planned once, however many rows (an executemany is one
execution per row on the server; a multi-row VALUES is a new statement per row count and
runs into the 65,535-parameter limit). SQLite runs in process: an executemany there is
one call and no round trips, so it keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Table,
    bindparam,
    cast,
    column,
    func,
    insert,
    inspect,
    select,
    true,
)
from sqlalchemy.orm import Session, make_transient, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Select, TableValuedAlias

from storage.db import insert_for, is_postgres


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} in a JSON recordset")


def recordset(name: str, types: Mapping[str, Any], param: str = "rows") -> TableValuedAlias:
    """`json_to_recordset(:rows) AS name(col type, ...)`: the rows given to `rows_param`."""
    source = func.json_to_recordset(cast(bindparam(param), JSON))
    columns = [column(key, type_) for key, type_ in types.items()]
    return source.table_valued(*columns).render_derived(name=name, with_types=True)


def rows_param(rows: Sequence[Mapping[str, Any]], param: str = "rows") -> dict[str, str]:
    """The execute parameters of a statement reading `recordset(...)`."""
    return {param: json.dumps(list(rows), default=_memo(_plain), separators=(",", ":"))}


def _shared(table: Table, given: Sequence[str], same: Mapping[str, Any]) -> dict[str, Any]:
    """`same`, plus the scalar Python defaults of the columns neither given nor in `same`."""
    taken = {*given, *same}
    defaults = {c.name: c.default.arg for c in table.columns
                if c.name not in taken and c.default is not None and c.default.is_scalar}
    return {**same, **defaults}


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *,
                conflict: Sequence[str] | None = None,
                returning: Sequence[Column] = (),
                same: Mapping[str, Any] | None = None) -> list[tuple]:
    """INSERT `rows` (dicts with the same keys) into `table` in one statement; with
    `conflict`, a row whose `conflict` columns already exist is skipped (ON CONFLICT DO
    NOTHING). `same` holds the values every row shares (the time of the batch, a status):
    they are sent once, not with each row, as are the columns' scalar defaults. Returns the
    `returning` columns of the rows inserted."""
    if not rows:
        return []
    given = list(rows[0])
    shared = _shared(table, given, same or {})
    names = given + list(shared)
    connection = session.connection()  # Core: nothing of the session's is flushed first
    postgres = is_postgres(session)
    shape = (table, tuple(given), tuple(shared), tuple(conflict or ()), conflict is None,
             tuple(c.key for c in returning))
    if postgres and not returning and _held(session) is not None:
        _hold(session, shape, lambda suffix: _insert(session, table, given, shared, conflict,
                                                     returning, suffix),
              lambda suffix: _insert_params(rows, shared, suffix))
        return []
    stmt = _built(connection, ("insert", shape),
                  lambda: _insert(session, table, given, shared, conflict, returning))
    if postgres:
        params: Any = _insert_params(rows, shared)
    else:
        params = [{**row, **shared} for row in rows] if returning else rows
    if returning:
        return [tuple(row) for row in connection.execute(stmt, params)]
    if postgres:
        connection.execute(stmt, params)
    else:
        executemany(connection, stmt, params, names, shared)
    return []


def _built(connection: Connection, shape: tuple, build: Callable[[], Any]) -> Any:
    """The statement of `shape`, built once per pooled connection: building a statement and
    its key for SQLAlchemy's compiled cache costs more than running it."""
    statements = connection.info.setdefault("signalbot.bulk.statements", {})
    if shape not in statements:
        statements[shape] = build()
    return statements[shape]


def _insert(session: Session, table: Table, given: list[str], shared: Mapping[str, Any],
            conflict: Sequence[str] | None, returning: Sequence[Column], suffix: str = "",
            ) -> Any:
    """`insert_rows`' statement for rows holding `given` and the values `shared` by all:
    on PostgreSQL, from a JSON recordset and one parameter per shared value (each parameter
    named with `suffix`, for a statement that holds several)."""
    if is_postgres(session):
        source = recordset("r", {name: table.c[name].type for name in given}, f"rows{suffix}")
        once = [bindparam(f"same_{name}{suffix}", type_=table.c[name].type) for name in shared]
        stmt = insert_for(session, table).from_select(
            [*given, *shared], select(*[source.c[name] for name in given], *once))
    else:
        stmt = insert_for(session, table)
    if conflict is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    return stmt.returning(*returning) if returning else stmt


def _insert_params(rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any],
                   suffix: str = "") -> dict[str, Any]:
    return {**rows_param(rows, f"rows{suffix}"),
            **{f"same_{name}{suffix}": value for name, value in shared.items()}}


_HELD = "signalbot.bulk.held"
Build = Callable[[str], Any]  # a statement whose parameter names end with the given suffix


@contextmanager
def one_statement(session: Session) -> Iterator[None]:
    """Write what `insert_rows` (without `returning`) and `write_changes` are asked to write
    inside the block at its end, in one statement on PostgreSQL: each as a data-modifying
    `WITH` of the last. One round trip for a unit of work's tail instead of one per table.

    Nothing inside the block may read what it wrote (it is not there yet); a row that breaks
    a constraint fails the one statement, as it would have failed its own. On SQLite (in
    process: no round trips) each is written when asked.
    """
    if not is_postgres(session) or _held(session) is not None:
        yield
        return
    held: list[tuple[Any, Build, Callable[[str], dict[str, Any]]]] = []
    session.info[_HELD] = held
    try:
        yield
    finally:
        session.info.pop(_HELD, None)
    _write_held(session, held)


def _held(session: Session) -> list | None:
    return session.info.get(_HELD)


def _hold(session: Session, shape: Any, build: Build,
          params: Callable[[str], dict[str, Any]]) -> None:
    _held(session).append((shape, build, params))


def _write_held(session: Session, held: list) -> None:
    if not held:
        return
    def build() -> Any:
        parts = [part_of(f"_{index}") for index, (_, part_of, _) in enumerate(held)]
        ctes = [part.cte(f"w{index}") for index, part in enumerate(parts[:-1])]
        return parts[-1].add_cte(*ctes)

    connection = session.connection()
    stmt = _built(connection, ("held", *(item[0] for item in held)), build)
    params: dict[str, Any] = {}
    for index, (_, _, values) in enumerate(held):
        params.update(values(f"_{index}"))
    connection.execute(stmt, params)


def update_rows(session: Session, table: Table, key: str, types: Mapping[str, Any],
                rows: Sequence[Mapping[str, Any]], values: Callable[[Any], dict]) -> None:
    """UPDATE `table` row by row in one statement: each of `rows` (keys: `key`, the table's
    primary key, then `types`' names, none of them a column's name) sets what
    `values(source)` says, where `source[name]` holds the row's value (a JSON recordset's
    column on PostgreSQL, a bound parameter of an executemany on SQLite)."""
    if not rows:
        return
    if is_postgres(session):
        source = recordset("v", {key: table.c.id.type, **types})
        stmt = table.update().where(table.c.id == source.c[key]).values(values(source.c))
        session.connection().execute(stmt, rows_param(rows))
        return
    params = {name: bindparam(name, type_=type_) for name, type_ in types.items()}
    stmt = table.update().where(table.c.id == bindparam(key)).values(values(params))
    executemany(session.connection(), stmt, rows)


def executemany(connection: Connection, stmt: Any, rows: Sequence[Mapping[str, Any]],
                names: Sequence[str] | None = None, same: Mapping[str, Any] | None = None
                ) -> int:
    """`stmt` once per row, as one driver executemany (SQLite), each value converted by its
    type's own bind processor, as SQLAlchemy's executemany would, but a value met before is
    not converted again (a batch's rows share a few timestamps: `now`) and no per-row
    bookkeeping is done: this is most of the cost of writing rows on SQLite. `same`: the
    values of columns in `names` (or of parameters) that no row holds. Returns the rows
    the statements changed, all together."""
    compiled = _compiled(connection, stmt, names)
    defaults = {name: bind.effective_value for name, bind in compiled.binds.items()}  # literals
    defaults.update(same or {})
    convert = {name: _memo(bind.type._cached_bind_processor(connection.dialect))
               for name, bind in compiled.binds.items()}
    order = compiled.positiontup or []
    values = [tuple(_value(row, name, defaults, convert[name]) for name in order)
              for row in rows]
    return connection.exec_driver_sql(compiled.string, values).rowcount


def _compiled(connection: Connection, stmt: Any, names: Sequence[str] | None) -> Any:
    """`stmt` compiled for `names`; a statement with no literal values is compiled once per
    pooled connection and shape (kept in the connection's `info`), as SQLAlchemy's own cache
    would for a statement it executes itself."""
    key = stmt._generate_cache_key()
    if key is None or key.bindparams:  # literals: their values are in the compiled form
        return stmt.compile(dialect=connection.dialect, column_keys=names)
    cache = connection.info.setdefault("signalbot.bulk.compiled", {})
    shape = (key.key, tuple(names or ()))
    if shape not in cache:
        cache[shape] = stmt.compile(dialect=connection.dialect, column_keys=names)
    return cache[shape]


def _value(row: Mapping[str, Any], name: str, defaults: Mapping[str, Any],
           convert: Callable[[Any], Any] | None) -> Any:
    value = row[name] if name in row else defaults[name]
    return convert(value) if convert is not None else value


def _memo(process: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    if process is None:
        return None
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = done = process(value)
            return done
        except TypeError:  # unhashable (a JSON document)
            return process(value)

    return convert


def insert_pending(session: Session, *models: type) -> int:
    """Write the session's new, unflushed objects of `models` with one statement per model
    (`insert_rows`), in the order they were added, and take them out of the session; returns how
    many rows were written.

    For rows the unit of work never reads back (an event log entry, a new clock): the ORM
    inserts such objects one statement each where it must return their ids (SQLite), and
    costs more CPU per row than one plain statement. Objects whose unset columns have
    callable defaults stay with the ORM.
    """
    written = 0
    for model in models:
        mapper = inspect(model)
        columns = _insert_columns(mapper)
        pending = sorted((inspect(obj) for obj in session.new if type(obj) is model),
                         key=lambda state: state.insert_order)
        rows = [row for row in (_row(state.dict, columns) for state in pending)
                if row is not None]
        if len(rows) < len(pending) or not rows:
            continue
        for state in pending:
            session.expunge(state.obj())
        insert_rows(session, mapper.local_table, rows)
        written += len(rows)
    return written


def insert_one(session: Session, obj: Any) -> None:
    """Write the new object `obj` with one Core statement that returns its primary key, then
    make it part of `session` as if it had been loaded: no ORM flush writes it, and what is
    changed on it afterwards is flushed as an UPDATE.

    For the one row a unit of work must write first because the rest name its id (a new
    signal): the ORM's insert costs several times the statement. Every column must have a
    value or a scalar default (a callable default raises ValueError); relationships are
    left unloaded, except many-to-one objects already set on `obj`.
    """
    mapper, columns, row = _new_row(obj)
    (key,) = mapper.primary_key
    ((new_id,),) = insert_rows(session, mapper.local_table, [row], returning=[key])
    _as_loaded(session, obj, columns, row, {mapper.get_property_by_column(key).key: new_id})


def _new_row(obj: Any, leave: Column | None = None) -> tuple[Any, list, dict]:
    """The mapper of the new `obj`, the (attribute, column) pairs it is inserted with (not
    `leave`) and the row's values: each column's, or its scalar default."""
    mapper = inspect(type(obj))
    columns = [(attr, col) for attr, col in _insert_columns(mapper) if col is not leave]
    row = _row(inspect(obj).dict, columns)
    if row is None:
        raise ValueError(f"{mapper.class_.__name__} has a column with a callable default")
    return mapper, columns, row


def _as_loaded(session: Session, obj: Any, columns: list, row: Mapping[str, Any],
               more: Mapping[str, Any]) -> None:
    """`obj` just written as `row`, holding the defaults the row took (so that nothing is
    expired) and the values `more` (its new key), made part of `session` as if loaded."""
    for attr, col in columns:
        setattr(obj, attr, row[col.key])
    for attr, value in more.items():
        setattr(obj, attr, value)
    make_transient_to_detached(obj)
    session.add(obj)


def insert_one_under(session: Session, obj: Any, relation: str, parent: Select,
                     params: Mapping[str, Any]) -> Any | None:
    """`insert_one` for a new `obj` whose many-to-one `relation` is the row `parent` selects
    (its entity, by a key: the first row is taken), both in one statement on PostgreSQL:
    `WITH parent AS (…), new AS (INSERT … SELECT parent.key, … RETURNING id) SELECT …`.
    Returns the parent, as the session would have loaded it, now set on `obj`; None, with
    nothing written, when `parent` finds no row, and always on SQLite (in process, where a
    statement more costs no round trip): the caller reads the parent and uses `insert_one`.
    `parent` must be built once (a module constant): its statement is kept per connection.
    """
    if not is_postgres(session):
        return None
    prop = inspect(type(obj)).relationships[relation]
    ((foreign, referred),) = prop.local_remote_pairs
    mapper, columns, row = _new_row(obj, leave=foreign)
    table = mapper.local_table
    (key,) = mapper.primary_key
    connection = session.connection()
    stmt = _built(connection, ("under", table, relation, parent, tuple(row)),
                  lambda: _insert_under(table, key, foreign, referred, parent, list(row)))
    found = connection.execute(stmt, {**params, **{f"v_{n}": v for n, v in row.items()}}).first()
    if found is None:
        return None
    related = _loaded(session, prop.mapper, found._mapping)
    _as_loaded(session, obj, columns, row, {
        mapper.get_property_by_column(foreign).key: getattr(related, referred.key),
        relation: related, mapper.get_property_by_column(key).key: found[0]})
    return related


def _insert_under(table: Table, key: Column, foreign: Column, referred: Column,
                  parent: Select, given: list[str]) -> Any:
    found = parent.limit(1).cte("parent")
    values = [bindparam(f"v_{name}", type_=table.c[name].type) for name in given]
    new = (insert(table)
           .from_select([foreign.key, *given], select(found.c[referred.key], *values))
           .returning(key).cte("new"))
    return select(new.c[key.key].label("new_id"), *found.c).select_from(
        new.join(found, true()))


def _loaded(session: Session, mapper: Any, values: Mapping[str, Any]) -> Any:
    """The entity of `mapper` whose columns are `values`, persistent in `session` as if a
    query had loaded it (the session's own, if it holds that row already)."""
    ident = tuple(values[col.key] for col in mapper.primary_key)
    held = session.identity_map.get(mapper.identity_key_from_primary_key(ident))
    if held is not None:
        return held
    entity = mapper.class_()
    _as_loaded(session, entity, [], {}, {attr.key: values[attr.columns[0].key]
                                         for attr in mapper.column_attrs})
    return entity


def write_changes(session: Session, obj: Any) -> None:
    """Write the columns changed on the persistent `obj` with one Core UPDATE and leave `obj`
    clean in the session, so its flush has nothing of `obj` left to look at.

    For the row a unit of work changes last on its hot path (a new signal's stage and
    version): the ORM's flush of one object costs several times the statement. Only column
    attributes are written; a changed relationship is left to the flush (and `obj` with it).
    """
    state = inspect(obj)
    table = state.mapper.local_table
    changed = {attr.key: attr.columns[0] for attr in state.mapper.column_attrs
               if state.attrs[attr.key].history.has_changes()}
    if not changed:
        _settle(session, obj, ())
        return
    (key,) = state.mapper.primary_key
    values = {col.key: getattr(obj, attr) for attr, col in changed.items()}
    values["row_key"] = state.identity[0]

    def build(suffix: str) -> Any:
        return table.update().where(key == bindparam(f"row_key{suffix}")).values(
            {name: bindparam(f"{name}{suffix}", type_=table.c[name].type)
             for name in values if name != "row_key"})

    shape = ("update", table, tuple(values))
    if _held(session) is not None:
        _hold(session, shape, build,
              lambda suffix: {f"{name}{suffix}": value for name, value in values.items()})
    else:
        connection = session.connection()
        connection.execute(_built(connection, shape, lambda: build("")), values)
    _settle(session, obj, changed)


def _settle(session: Session, obj: Any, written: Iterable[str]) -> None:
    """`obj` as if just loaded: what it holds now is its committed state, and the session
    does not count it as dirty (a flush of an object with nothing to write still walks the
    unit of work: most of a small commit's CPU). With a relationship changed, only the
    `written` columns are marked as written: the rest is the flush's."""
    state = inspect(obj)
    if any(state.attrs[rel.key].history.has_changes() for rel in state.mapper.relationships):
        for attr in written:
            set_committed_value(obj, attr, getattr(obj, attr))
        return
    session.expunge(obj)
    make_transient(obj)
    make_transient_to_detached(obj)
    session.add(obj)


def _insert_columns(mapper: Any) -> list:
    """(attribute, column) of each column a new row is written with (not an autoincrement key)."""
    generated = mapper.local_table.autoincrement_column
    return [(attr.key, attr.columns[0]) for attr in mapper.column_attrs
            if attr.columns[0] is not generated]


def _row(values: dict, columns: list) -> dict | None:
    row = {}
    for key, col in columns:
        if key in values:
            row[col.key] = values[key]
        elif col.default is None:
            row[col.key] = None
        elif col.default.is_scalar:
            row[col.key] = col.default.arg
        else:
            return None
    return row
