"""Create the three roles as groups with the permissions each needs."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = [
    "product", "lot", "serialunit", "party", "site", "traceevent", "eventline", "genealogy",
    "statuschange", "servicerecord", "servicepart", "item",
    "historicalproduct", "historicallot", "historicalserialunit", "historicalparty",
    "historicalsite", "historicalservicerecord",
]

VIEW_ALL = [f"view_{model}" for model in MODELS]

ROLE_PERMISSIONS = {
    "Quality managers": VIEW_ALL + [
        "add_lot", "change_lot", "change_lot_status",
        "add_serialunit", "change_serialunit", "change_serialunit_status",
        "add_traceevent", "add_servicerecord", "change_servicerecord",
        "change_party", "change_site",
    ],
    "Quality staff": VIEW_ALL + ["add_traceevent", "add_servicerecord", "change_servicerecord"],
    "Administrators": VIEW_ALL + [
        f"{action}_{model}"
        for model in ("product", "lot", "serialunit", "party", "site", "servicerecord")
        for action in ("add", "change")
    ] + ["change_lot_status", "change_serialunit_status", "add_traceevent"],
}

AUTH_PERMISSIONS = ["add_user", "change_user", "view_user", "view_group"]


def create_roles(apps, schema_editor):
    # Permissions are normally made after all migrations; the groups need them now.
    for app_label in ("auth", "inventory"):
        app_config = apps.get_app_config(app_label)
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
        if name == "Administrators":
            permissions += Permission.objects.filter(
                content_type__app_label="auth", codename__in=AUTH_PERMISSIONS
            )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise RuntimeError(f"Permissions missing for {name}: {sorted(missing)}")
        group.permissions.add(*permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
