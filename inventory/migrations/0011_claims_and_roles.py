"""Warranty claims get their own records, and the roles the permissions of serial life.

Claims were service records of kind "warranty" until now; each becomes a WarrantyClaim (still
open if its outcome was open, closed otherwise) and its record a repair linked to it when the
unit was repaired.
"""

import datetime

from django.contrib.auth.management import create_permissions
from django.db import migrations

NEW_MODELS = [
    "serialrun", "unitreturn", "returnphoto", "warrantyclaim", "unitownership",
    "verificationcheck", "counterfeitflag", "historicalunitreturn", "historicalwarrantyclaim",
    "historicalunitownership", "historicalcounterfeitflag",
]
VIEW_NEW = [f"view_{model}" for model in NEW_MODELS]
STAFF = ["add_unitreturn", "add_returnphoto", "add_warrantyclaim", "add_unitownership",
         "change_unitownership"]
ROLE_PERMISSIONS = {
    "Quality managers": VIEW_NEW + STAFF + [
        "add_serialrun", "decide_unitreturn", "decide_warrantyclaim", "override_warrantyclaim",
        "review_counterfeitflag",
    ],
    "Quality staff": VIEW_NEW + STAFF,
    "Administrators": VIEW_NEW + ["change_unitownership"],
}
CLOSED_OUTCOMES = {"rejected", "repaired", "replaced", "passed", "failed", "no_fault"}


def _moment(day):
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)


def claims_from_service_records(apps, schema_editor):
    ServiceRecord = apps.get_model("inventory", "ServiceRecord")
    WarrantyClaim = apps.get_model("inventory", "WarrantyClaim")
    DocumentSequence = apps.get_model("inventory", "DocumentSequence")
    records = ServiceRecord.objects.filter(kind="warranty").select_related("serial_unit")
    for record in records.order_by("performed_on", "pk"):
        year = record.performed_on.year
        sequence, _ = DocumentSequence.objects.get_or_create(kind="WC", year=year)
        sequence.last_number += 1
        sequence.save(update_fields=["last_number"])
        ends = record.serial_unit.warranty_ends_on
        closed = record.outcome in CLOSED_OUTCOMES
        moment = _moment(record.performed_on)
        WarrantyClaim.objects.create(
            number=f"WC-{year}-{sequence.last_number:04d}",
            serial_unit=record.serial_unit,
            fault=record.description,
            reported_on=record.performed_on,
            warranty_ends_on=ends,
            covered=None if ends is None else record.performed_on <= ends,
            status="closed" if closed else "open",
            decision_reason=(
                "Rejected before claims had their own records." if record.outcome == "rejected"
                else ""
            ),
            decided_at=moment if closed else None,
            service_record=record if record.outcome == "repaired" else None,
            resolved_at=moment if closed else None,
            closed_at=moment if closed else None,
            closing_note=f"Kept as a service record ({record.outcome}) until claims had their own."
            if closed else "",
            opened_by=record.recorded_by,
            opened_at=moment,
        )
        record.kind = "repair" if record.outcome == "repaired" else "inspection"
        record.save(update_fields=["kind"])


def grant(apps, schema_editor):
    app_config = apps.get_app_config("inventory")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = list(
            Permission.objects.filter(content_type__app_label="inventory", codename__in=codenames)
        )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise RuntimeError(f"Permissions missing for {name}: {sorted(missing)}")
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=ROLE_PERMISSIONS):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="inventory",
                codename__in=ROLE_PERMISSIONS[group.name],
            )
        )


class Migration(migrations.Migration):
    dependencies = [("inventory", "0010_serial_life")]

    operations = [
        migrations.RunPython(claims_from_service_records, migrations.RunPython.noop),
        migrations.RunPython(grant, revoke),
    ]
