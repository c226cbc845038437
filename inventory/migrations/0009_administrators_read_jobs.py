"""Administrators read background jobs in the admin (who started what, and how it ended)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    app_config = apps.get_app_config("inventory")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Administrators")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="inventory", codename="view_job")
    )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Administrators"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="inventory", codename="view_job")
        )


class Migration(migrations.Migration):
    dependencies = [("inventory", "0008_lot_list_order")]

    operations = [migrations.RunPython(grant, revoke)]
