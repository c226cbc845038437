"""The lot list opens newest first (production date, latest first, lots without one last): an
index in that order lets PostgreSQL read the first page's 50 lots instead of joining and
sorting all of them (300-450 ms on 202,400 lots, measured with benchmarks/lists.py).

Django cannot declare "DESC NULLS LAST" in an index that SQLite also builds (SQLite has no
NULLS LAST in CREATE INDEX, and puts NULLs last when descending anyway), so each database gets
its own statement; the index is not part of the model's state.
"""

from django.db import migrations

INDEX = "lot_produced_desc_idx"
CREATE = {
    "postgresql": f"CREATE INDEX {INDEX} ON inventory_lot "
    "(produced_on DESC NULLS LAST, item_id DESC)",
    "sqlite": f"CREATE INDEX {INDEX} ON inventory_lot (produced_on DESC, item_id DESC)",
}


def create(apps, schema_editor):
    sql = CREATE.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor in CREATE:
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0007_job")]

    operations = [migrations.RunPython(create, drop)]
