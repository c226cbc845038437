"""Insert many rows at once, for imports: COPY on PostgreSQL, executemany on SQLite.

Django's bulk_create builds a model instance per row and, on PostgreSQL, sends the values as
arrays that psycopg builds in Python; an EPCIS import writes hundreds of thousands of rows,
for which that costs more than everything else together. Here rows are plain dicts of column
values, streamed with COPY. Keys are drawn from each table's sequence first (on SQLite, which
lets one writer in at a time, they follow the largest key), so callers know them, as they do
after bulk_create. Nothing here validates: callers validate first, and the database's
constraints still hold.
"""

from django.db import connection

SQLITE_BATCH = 500


def _columns(model):
    return list(model._meta.concrete_fields)


def _next_keys(model, count: int) -> list[int]:
    meta = model._meta
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, count],
            )
            return [key for (key,) in cursor.fetchall()]
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
    meta = model._meta
    fields = _columns(model)
    pk = meta.pk.attname
    if pk not in rows[0] and keys:
        for row, key in zip(rows, _next_keys(model, len(rows)), strict=True):
            row[pk] = key
    elif pk not in rows[0]:
        fields = [field for field in fields if field.attname != pk]
    defaults = {}
    for field in fields:
        if field.attname not in rows[0] and field.has_default():
            defaults[field.attname] = field.get_default()
    postgres = connection.vendor == "postgresql"
    json_fields = [field for field in fields if field.get_internal_type() == "JSONField"]
    adapt_json = connection.ops.adapt_json_value
    names = [field.attname for field in fields]
    values = []
    for row in rows:
        full = {**defaults, **row}
        if postgres:
            for field in json_fields:
                full[field.attname] = adapt_json(full.get(field.attname), field.encoder)
            values.append([full.get(name) for name in names])
        else:
            values.append(
                [field.get_db_prep_save(full.get(field.attname), connection) for field in fields]
            )
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        if postgres:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
        else:
            marks = ", ".join(["%s"] * len(fields))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            for start in range(0, len(values), SQLITE_BATCH):
                cursor.executemany(sql, values[start : start + SQLITE_BATCH])
    return [row[pk] for row in rows] if keys else []


def insert(objs: list) -> list:
    """Insert unsaved model instances of one model; they get their primary keys."""
    if not objs:
        return objs
    model = type(objs[0])
    fields = _columns(model)
    pk = model._meta.pk.attname
    rows = []
    for obj in objs:
        # Take the keys of related objects saved since they were assigned (as bulk_create does).
        obj._prepare_related_fields_for_save(operation_name="insert")
        row = {field.attname: field.pre_save(obj, True) for field in fields}
        if row[pk] is None:
            del row[pk]
        rows.append(row)
    if len({pk in row for row in rows}) > 1:
        raise ValueError("Insert rows either all with their keys or all without.")
    keys = insert_rows(model, rows)
    for obj, key in zip(objs, keys, strict=True):
        setattr(obj, pk, key)
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs
