"""The default notice wording, scope revisions for campaigns already open, and the roles'
permissions on what 0003 added."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from recalls.notice_default import BODY, SUBJECT

VIEW = [
    "view_itemresolution",
    "view_campaignsignature",
    "view_noticetemplate",
    "view_historicalconsigneenotice",
]
ROLE_PERMISSIONS = {
    "Quality managers": VIEW
    + [
        "open_recallcampaign",
        "close_recallcampaign",
        "send_consigneenotice",
        "change_affecteditem",
        "change_consigneenotice",
        "add_itemresolution",
        "change_noticetemplate",
    ],
    "Quality staff": VIEW + ["add_itemresolution"],
}


def forwards(apps, schema_editor):
    RecallCampaign = apps.get_model("recalls", "RecallCampaign")
    RecallCampaign.objects.exclude(status="draft").update(scope_revision=1)
    NoticeTemplate = apps.get_model("recalls", "NoticeTemplate")
    if not NoticeTemplate.objects.filter(is_default=True).exists():
        NoticeTemplate.objects.create(
            name="Standard recall notice", subject=SUBJECT, body=BODY, is_default=True
        )
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


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLE_PERMISSIONS.items():
        permissions = Permission.objects.filter(
            content_type__app_label="recalls", codename__in=codenames
        )
        for group in Group.objects.filter(name=name):
            group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("recalls", "0003_resolutions_signatures_notices")]

    operations = [migrations.RunPython(forwards, backwards)]
