"""Row locks for inventory, taken in one place so every code path locks in primary-key order."""

from django.db import connection

from .models import DocumentSequence, Lot, SerialUnit

# pg_advisory_xact_lock keys: one number per kind of work that must not run twice at once.
EPCIS_IMPORT_LOCK = 7_204_001


def lock_items(*items: Lot | SerialUnit) -> list[Lot | SerialUnit]:
    """Lock lots and units for update (fresh from the database), returned in the given order."""
    locked = {}
    for model in (Lot, SerialUnit):
        keys = [item.pk for item in items if isinstance(item, model)]
        if keys:
            rows = (
                model.objects.select_related("product")
                .filter(pk__in=keys)
                .order_by("pk")
                .select_for_update(of=("self",))
            )
            locked.update({row.pk: row for row in rows})
    return [locked[item.pk] for item in items]


def lock_item(item: Lot | SerialUnit) -> Lot | SerialUnit:
    return lock_items(item)[0]


def lock_queryset(queryset) -> list:
    """Lock every row of a queryset for update and return them, fresh from the database."""
    return list(queryset.order_by("pk").select_for_update(of=("self",)))


def lock_record(instance):
    """Lock any one row for update and return it fresh from the database."""
    if isinstance(instance, Lot | SerialUnit):
        return lock_item(instance)
    model = type(instance)
    return model.objects.filter(pk=instance.pk).select_for_update(of=("self",)).get()


def lock_epcis_imports() -> None:
    """Wait until no other EPCIS import runs, until this transaction ends (PostgreSQL; SQLite
    lets one writer in at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EPCIS_IMPORT_LOCK])


def lock_sequence(kind: str, year: int) -> DocumentSequence:
    """The year's counter for a kind of document, locked until the transaction ends."""
    DocumentSequence.objects.get_or_create(kind=kind, year=year)
    return DocumentSequence.objects.select_for_update().get(kind=kind, year=year)
