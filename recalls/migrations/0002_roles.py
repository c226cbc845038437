"""Give the roles their permissions on recalls: managers run campaigns, staff work them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_RECORDS = [
    "view_recallcampaign",
    "view_historicalrecallcampaign",
    "view_affecteditem",
    "view_consigneenotice",
    "view_campaignevent",
]

ROLE_PERMISSIONS = {
    "Quality managers": VIEW_RECORDS + ["add_recallcampaign", "change_recallcampaign"],
    # Staff resolve items and record responses, so they see the campaigns they work on.
    "Quality staff": VIEW_RECORDS + ["change_affecteditem", "change_consigneenotice"],
}


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; the groups need them now.
    app_config = apps.get_app_config("recalls")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = list(
            Permission.objects.filter(content_type__app_label="recalls", codename__in=codenames)
        )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise RuntimeError(f"Permissions missing for {name}: {sorted(missing)}")
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="recalls")
    for group in Group.objects.filter(name__in=ROLE_PERMISSIONS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("recalls", "0001_initial"),
        ("inventory", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
