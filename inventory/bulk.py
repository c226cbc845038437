"""Insert many rows at once, for imports: COPY on PostgreSQL, executemany on SQLite.

Django's bulk_create builds a model instance per row and, on PostgreSQL, sends the values as
arrays that psycopg builds in Python; an EPCIS import writes hundreds of thousands of rows,
for which that costs more than everything else together. Here rows are plain dicts of column
values, streamed with COPY. Keys are drawn from each table's sequence first (on SQLite, which
lets one writer in at a time, they follow the largest key), so callers know them, as they do
after bulk_create. Nothing here validates: callers validate first, and the database's
constraints still hold.

Inside `streaming()`, on PostgreSQL, a thread sends the COPYs on the transaction's own
connection while the caller builds the next rows (see there).
"""

import json
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from operator import attrgetter

from django.db import connection
from psycopg import adapt

try:  # psycopg's own COPY formatting (in C with psycopg[binary]); private, hence the fallback
    from psycopg._copy_base import format_row_text
except ImportError:  # pragma: no cover
    format_row_text = None

SQLITE_BATCH = 500
_local = threading.local()  # the stream of this thread's connection, if any


class Json(str):
    """A JSON field's value already encoded: insert_rows takes it as it is."""


def _columns(model):
    return list(model._meta.concrete_fields)


def _draw_keys(cursor, model, count: int) -> list[int]:
    meta = model._meta
    # The sequence is looked up once: pg_get_serial_sequence() in the select list would run
    # for every key (ten times the cost of the keys themselves).
    cursor.execute(
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS sequence) "
        "SELECT nextval(sequence) FROM s, generate_series(1, %s)",
        [meta.db_table, meta.pk.column, count],
    )
    return [key for (key,) in cursor.fetchall()]


def _next_keys(model, count: int) -> list[int]:
    stream = getattr(_local, "stream", None)
    if stream is not None:
        return stream.keys(model, count)
    meta = model._meta
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _draw_keys(cursor, model, count)
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT MAX({quote(meta.pk.column)}) FROM {quote(meta.db_table)}")
        last = cursor.fetchone()[0] or 0
        # AUTOINCREMENT never hands out the key of a deleted row again (its history would
        # become the new row's); neither do we.
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [meta.db_table])
        row = cursor.fetchone()
        last = max(last, row[0] if row else 0)
        return list(range(last + 1, last + 1 + count))


def insert_rows(model, rows: list[dict], *, keys: bool = True) -> list:
    """Insert rows given as {attname: value}; left-out fields take their defaults (a callable
    default is called once for all rows: fine for timezone.now, wrong for uuid4).

    Return each row's primary key, drawn here when the rows do not give it; with keys=False
    the database numbers the rows itself (cheaper) and nothing is returned.
    """
    if not rows:
        return []
    names = [field.attname for field in _columns(model) if field.attname in rows[0]]
    return insert_values(model, names, [tuple(map(row.get, names)) for row in rows], keys=keys)


def insert_values(model, names: list[str], values: list[tuple], *, keys: bool = True) -> list:
    """insert_rows for rows given as tuples of the fields `names` names (attnames), in that
    order: an import writes hundreds of thousands of rows, and a dict for each costs."""
    if not values:
        return []
    meta = model._meta
    pk = meta.pk.attname
    names = list(names)
    if pk in names:
        given = names.index(pk)
        drawn = [value[given] for value in values] if keys else []
    elif keys:
        drawn = _next_keys(model, len(values))
        names.insert(0, pk)
        values = [(key, *value) for key, value in zip(drawn, values, strict=True)]
    else:
        drawn = []
    fields_by_name = {field.attname: field for field in _columns(model)}
    rest = [
        field
        for field in fields_by_name.values()
        if field.attname not in names and (field.attname != pk or keys)
    ]
    if rest:
        names += [field.attname for field in rest]
        tail = tuple(field.get_default() if field.has_default() else None for field in rest)
        values = [(*value, *tail) for value in values]
    fields = [fields_by_name[name] for name in names]
    postgres = connection.vendor == "postgresql"
    if postgres:
        # COPY's text format takes JSON as text; json.dumps is what psycopg's Jsonb calls.
        for position, field in enumerate(fields):
            if field.get_internal_type() != "JSONField":
                continue
            encoder = field.encoder
            values = [
                value
                if isinstance(value[position], Json)
                else (
                    *value[:position],
                    json.dumps(value[position], cls=encoder),
                    *value[position + 1 :],
                )
                for value in values
            ]
    else:
        prepared = [
            _sqlite_column(field, column)
            for field, column in zip(fields, zip(*values, strict=True), strict=True)
        ]
        values = list(zip(*prepared, strict=True))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(meta.db_table)
    if postgres:
        sql = f"COPY {table} ({columns}) FROM STDIN"
        stream = getattr(_local, "stream", None)
        if stream is not None:
            stream.copy(sql, values, meta.db_table)
        else:
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for value in values:
                    copy.write_row(value)
    else:
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        with connection.cursor() as cursor:
            for start in range(0, len(values), SQLITE_BATCH):
                cursor.executemany(sql, values[start : start + SQLITE_BATCH])
    return drawn


# Fields whose int or str values SQLite stores as they are (a key to a UUID is not one).
_STORED_AS_GIVEN = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
    "CharField",
    "TextField",
}


def _sqlite_column(field, column: tuple) -> list | tuple:
    """A column's values as SQLite takes them.

    get_db_prep_save costs a microsecond or more a value, more than the insert itself: it is
    skipped where it changes nothing (ints and strings of plain fields), and a column of one
    value repeated (a run's product, its time) is prepared once. Both are checked in C.
    """
    target = field.target_field if field.is_relation else field
    if target.get_internal_type() in _STORED_AS_GIVEN and set(map(type, column)) <= _GIVEN_TYPES:
        return column
    if len(set(map(id, column))) == 1 and not isinstance(column[0], Json):
        return [field.get_db_prep_save(column[0], connection)] * len(column)
    return [
        value if isinstance(value, Json) else field.get_db_prep_save(value, connection)
        for value in column
    ]


_GIVEN_TYPES = {int, str, type(None), Json}


def insert(objs: list) -> list:
    """Insert unsaved model instances of one model; they get their primary keys."""
    if not objs:
        return objs
    model = type(objs[0])
    fields = _columns(model)
    pk = model._meta.pk.attname
    relations = [field for field in fields if field.is_relation]
    # Only fields that set their value when saved (auto_now_add) need pre_save; the others
    # are read as they are, which costs less over tens of thousands of records.
    saved = [field for field in fields if getattr(field, "auto_now", False)]
    saved += [field for field in fields if getattr(field, "auto_now_add", False)]
    plain = [field.attname for field in fields if field not in saved]
    getters = [attrgetter(name) for name in plain]
    values = []
    for obj in objs:
        # Take the keys of related objects saved since they were assigned (what bulk_create's
        # _prepare_related_fields_for_save does, for the relations alone).
        for field in relations:
            if not field.is_cached(obj):
                continue
            related = field.get_cached_value(obj)
            if related is None:
                continue
            if related.pk is None:
                raise ValueError(
                    f"insert() prohibited to prevent data loss due to unsaved related object "
                    f"'{field.name}'."
                )
            if getattr(obj, field.attname) in field.empty_values:
                setattr(obj, field.attname, related.pk)
        values.append(
            (*[get(obj) for get in getters], *[field.pre_save(obj, True) for field in saved])
        )
    names = plain + [field.attname for field in saved]
    position = names.index(pk)
    with_keys = {value[position] is not None for value in values}
    if len(with_keys) > 1:
        raise ValueError("Insert rows either all with their keys or all without.")
    if with_keys == {False}:
        del names[position]
        values = [(*value[:position], *value[position + 1 :]) for value in values]
    keys = insert_values(model, names, values)
    for obj, key in zip(objs, keys, strict=True):
        setattr(obj, pk, key)
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def reserve_keys(model, count: int) -> None:
    """Draw `count` keys of a model ahead, inside streaming(), for insert_rows to use later
    (keys left over are a gap in the sequence, as a rollback leaves one)."""
    stream = getattr(_local, "stream", None)
    if stream is not None and count > 0:
        stream.reserve(model, count)


@contextmanager
def streaming():
    """Overlap writing with building what is written, on PostgreSQL, in one transaction.

    insert_rows() only queues its COPY; a thread sends the queued COPYs, in order, on this
    transaction's connection, and after each one (or when the savepoint it was written in is
    released) has the database check that table's deferred foreign keys (SET CONSTRAINTS …
    IMMEDIATE, then DEFERRED again), instead of at COMMIT. So PostgreSQL inserts and checks
    one batch while Python builds the next: the two work at once. Rows must therefore come
    after the rows they point at. Any other statement waits until the queue is empty, so
    reads see every queued row; the savepoints of nested services are queued too (they
    return nothing). A failed COPY or check raises in the caller's thread, at its next
    statement or when the block ends, and nothing queued after it runs. On SQLite this does
    nothing.
    """
    if connection.vendor != "postgresql" or getattr(_local, "stream", None) is not None:
        yield
        return
    connection.ensure_connection()
    stream = _Stream(connection.connection)
    _local.stream = stream
    try:
        with connection.execute_wrapper(stream.wrap_execute):
            yield
            stream.settle()
    finally:
        _local.stream = None
        stream.close()


class _Stream:
    """The writer thread of streaming() and the work queued for it."""

    def __init__(self, raw_connection):
        self.raw = raw_connection
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-copy")
        self.pending = deque()
        self.error = None
        self.reserved = {}  # model → futures of drawn keys, oldest first
        self.unused = {}  # model → keys drawn and not yet handed out
        self.constraints = {}  # table → its deferred foreign keys
        self.unchecked = {}  # tables written since their foreign keys were last checked
        self.savepoints = 0  # open since streaming began
        self.transformer = None  # how the caller's thread formats COPY rows

    # --- In the caller's thread -----------------------------------------------------------

    def submit(self, function, *args):
        while self.pending and self.pending[0].done():
            self.pending.popleft()
        future = self.executor.submit(self._run, function, *args)
        self.pending.append(future)
        return future

    def settle(self):
        """Wait until everything queued has run; raise the first error, as Django would."""
        while self.pending:
            self.pending.popleft().exception()
        if self.error is not None:
            error, self.error = self.error, None
            with connection.wrap_database_errors:
                raise error

    def copy(self, sql: str, values: list, table: str):
        if format_row_text is not None:
            # Formatted here, in one buffer, so the writer thread only sends it: it needs the
            # interpreter lock for a few calls per COPY, not for every row, and gets it back
            # without waiting on the thread that plans the next rows.
            if self.transformer is None:
                self.transformer = adapt.Transformer(self.raw)
            data = bytearray()
            for value in values:
                format_row_text(value, self.transformer, data)
            values = data
        self.submit(self._copy, sql, values)
        self.unchecked[table] = None
        if not self.savepoints:
            self._check()

    def _check(self):
        # Checked inside a savepoint, every row a check locks (FOR KEY SHARE) would be
        # locked again by the next savepoint's checks, each lock a new MultiXact: checks
        # run where no savepoint is open, like COMMIT's.
        self.submit(self._check_foreign_keys, list(self.unchecked))
        self.unchecked.clear()

    def reserve(self, model, count: int):
        self.reserved.setdefault(model, deque()).append(self.submit(self._keys, model, count))

    def keys(self, model, count: int) -> list[int]:
        unused = self.unused.setdefault(model, deque())
        reserved = self.reserved.get(model) or deque()
        while len(unused) < count and reserved:
            keys = reserved.popleft().result()
            if keys is None:  # the queue failed before drawing them
                self.settle()
            unused.extend(keys)
        if len(unused) < count:
            future = self.submit(self._keys, model, count - len(unused))
            keys = future.result()
            if keys is None:
                self.settle()
            unused.extend(keys)
        return [unused.popleft() for _ in range(count)]

    def wrap_execute(self, execute, sql, params, many, context):
        if not params and sql.startswith(("SAVEPOINT ", "RELEASE SAVEPOINT ")):
            self.submit(self._execute, sql)
            self.savepoints += 1 if sql.startswith("SAVEPOINT ") else -1
            if not self.savepoints and self.unchecked:
                self._check()
            return None
        self.settle()
        return execute(sql, params, many, context)

    def close(self):
        # After an error, what has not started never will: the transaction rolls back.
        self.executor.shutdown(wait=True, cancel_futures=True)

    # --- In the writer thread -------------------------------------------------------------

    def _run(self, function, *args):
        if self.error is not None:
            return None  # the transaction has failed; the caller hears of it at settle()
        try:
            return function(*args)
        except Exception as exc:
            self.error = exc
            return None

    def _execute(self, sql: str):
        with self.raw.cursor() as cursor:
            cursor.execute(sql)

    def _keys(self, model, count: int) -> list[int]:
        with self.raw.cursor() as cursor:
            return _draw_keys(cursor, model, count)

    def _copy(self, sql: str, values: list | bytearray):
        with self.raw.cursor() as cursor, cursor.copy(sql) as copy:
            if isinstance(values, bytearray):
                copy.write(values)
                return
            for value in values:
                copy.write_row(value)

    def _check_foreign_keys(self, tables: list[str]):
        with self.raw.cursor() as cursor:
            unknown = [table for table in tables if table not in self.constraints]
            if unknown:
                self.constraints.update(dict.fromkeys(unknown))
                cursor.execute(
                    "SELECT relname, string_agg(quote_ident(conname), ', ') FROM pg_constraint "
                    "JOIN pg_class ON pg_class.oid = conrelid WHERE conrelid = ANY(%s::regclass[]) "
                    "AND contype = 'f' AND condeferred GROUP BY relname",
                    [unknown],
                )
                self.constraints.update(cursor.fetchall())
            names = ", ".join(filter(None, map(self.constraints.get, tables)))
            if names:
                # One round trip (the simple query protocol takes both statements): each one
                # the writer thread waits for costs it a wait for the interpreter lock too.
                cursor.execute(
                    f"SET CONSTRAINTS {names} IMMEDIATE; SET CONSTRAINTS {names} DEFERRED"
                )
