"""The audit trail cannot be rewritten: append-only records are refused a change or a deletion
by the models, the admin and (on PostgreSQL) the database itself; every other record that
quality work depends on keeps a history of every change; nothing it depends on can be deleted
from under it."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, models, transaction
from django.test import RequestFactory

from inventory.models import AppendOnlyModel, ImmutableRecordError, Item

from .world import world

__all__ = ["world"]  # the module's fixture

OUR_APPS = ("inventory", "recalls")

# Records that are neither audited nor append-only, and why that is right.
NOT_AUDITED = {
    "inventory.Item": "a graph node: its kind is set once, the lot or unit behind it is audited",
    "inventory.ServicePart": "written with its service record, whose history covers it",
    "inventory.Job": "a background job's progress, not a quality record",
    "inventory.DocumentSequence": "the last number handed out; every number is on its document",
    "inventory.SerialRun": "written once with its units, whose creation is in their history",
    "inventory.ReturnPhoto": "a file attached to an audited return, never changed",
    "inventory.Certificate": "a supplier's PDF, uploaded once and never changed",
    "inventory.SpecificationTest": "changed only while its version is a draft, before any lot "
    "is judged against it; frozen once the version is approved",
    "recalls.NonConformanceItem": "a lot or unit a report names, added through the report, "
    "whose timeline records each addition",
    "recalls.RecallSequence": "the last reference handed out; each is on its campaign",
    "recalls.AffectedItem": "changed only by resolutions and notices, which are append-only",
    "recalls.CampaignFigures": "figures computed from the campaign's records, kept for speed",
}


def our_models():
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS and not model.__name__.startswith("Historical")
    ]


def append_only_models():
    return [model for model in our_models() if issubclass(model, AppendOnlyModel)]


def audited_models():
    return [model for model in our_models() if hasattr(model, "history")]


def test_every_record_is_audited_append_only_or_exempt_for_a_stated_reason():
    unaccounted = sorted(
        model._meta.label
        for model in our_models()
        if not hasattr(model, "history")
        and not issubclass(model, AppendOnlyModel)
        and model._meta.label not in NOT_AUDITED
    )
    stale = sorted(set(NOT_AUDITED) - {model._meta.label for model in our_models()})
    assert not unaccounted, f"Audit these (HistoricalRecords), or say why not: {unaccounted}"
    assert not stale, f"These are gone; take them out of NOT_AUDITED: {stale}"


@pytest.mark.parametrize("model", append_only_models(), ids=lambda m: m._meta.label)
def test_append_only_records_carry_the_database_trigger(model):
    assert [trigger.name for trigger in model._meta.triggers] == ["append_only"]


@pytest.mark.django_db
@pytest.mark.parametrize("model", append_only_models(), ids=lambda m: m._meta.label)
def test_the_models_refuse_to_change_or_delete_an_append_only_record(world, model):
    record = model.objects.order_by("pk").first()
    assert record is not None, f"The world holds no {model._meta.verbose_name}."
    with pytest.raises(ImmutableRecordError):
        record.save()
    with pytest.raises(ImmutableRecordError):
        record.delete()
    with pytest.raises(ImmutableRecordError):
        model.objects.filter(pk=record.pk).update(pk=record.pk)
    with pytest.raises(ImmutableRecordError):
        model.objects.filter(pk=record.pk).delete()


@pytest.mark.django_db
@pytest.mark.skipif(  # on SQLite the models' refusal (tested above) is the whole guard
    connection.vendor != "postgresql", reason="pgtrigger installs its triggers on PostgreSQL only"
)
@pytest.mark.parametrize("model", append_only_models(), ids=lambda m: m._meta.label)
def test_the_database_refuses_to_change_or_delete_an_append_only_record(world, model):
    record = model.objects.order_by("pk").first()
    assert record is not None, f"The world holds no {model._meta.verbose_name}."
    table = connection.ops.quote_name(model._meta.db_table)
    key = connection.ops.quote_name(model._meta.pk.column)
    for statement in (
        f"UPDATE {table} SET {key} = {key} WHERE {key} = %s",
        f"DELETE FROM {table} WHERE {key} = %s",
    ):
        with pytest.raises(DatabaseError, match="Cannot update or delete rows"):  # noqa: SIM117
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [record.pk])
    assert model.objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize(
    "model",
    [model for model in append_only_models() if model in admin.site._registry],
    ids=lambda m: m._meta.label,
)
def test_the_admin_offers_no_change_or_delete_of_an_append_only_record(model):
    superuser = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    model_admin = admin.site._registry[model]
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


@pytest.mark.django_db
@pytest.mark.parametrize("model", audited_models(), ids=lambda m: m._meta.label)
def test_every_change_to_an_audited_record_lands_in_its_history_with_who(world, model):
    record = model.objects.order_by("pk").first()
    assert record is not None, f"The world holds no {model._meta.verbose_name}."
    someone = get_user_model().objects.create(username=f"auditor-{model._meta.model_name}")
    before = record.history.count()
    record._history_user = someone
    record._change_reason = "Checked by the integrity test"
    record.save()
    latest = record.history.latest("history_id")
    assert record.history.count() == before + 1
    assert latest.history_type == "~"
    assert latest.history_user == someone
    assert latest.history_change_reason == "Checked by the integrity test"


def test_nothing_that_points_at_traceability_records_deletes_with_them():
    """A foreign key to a lot, unit, node, event, product, party or site protects it (or, for
    history rows, leaves it): no cascade removes evidence with the record it names."""
    protected = {"Item", "Lot", "SerialUnit", "TraceEvent", "Product", "Party", "Site"}
    cascading = sorted(
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey)
        and field.related_model.__name__ in protected
        and field.remote_field.on_delete not in (models.PROTECT, models.DO_NOTHING)
    )
    assert not cascading, f"These would delete or null evidence with their target: {cascading}"


@pytest.mark.django_db
def test_a_lot_with_events_cannot_be_deleted(world):
    lot = world.samples["lot"]
    assert lot.item.event_lines.exists()
    with pytest.raises(models.ProtectedError):
        lot.delete()
    assert Item.objects.filter(pk=lot.pk).exists()
