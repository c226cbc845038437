"""Keep each event's type on its lines, so a trace finds shipments and receipts from lines."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_event_types(apps, schema_editor):
    EventLine = apps.get_model("inventory", "EventLine")
    TraceEvent = apps.get_model("inventory", "TraceEvent")
    EventLine.objects.update(
        event_type=Subquery(TraceEvent.objects.filter(pk=OuterRef("event_id")).values("event_type"))
    )


class Migration(migrations.Migration):
    dependencies = [("inventory", "0003_genealogy_production_lot")]

    operations = [
        migrations.AddField(
            model_name="eventline",
            name="event_type",
            field=models.CharField(
                choices=[
                    ("receive", "receive"),
                    ("produce", "produce"),
                    ("transform", "transform"),
                    ("consume", "consume"),
                    ("ship", "ship"),
                    ("return", "return"),
                    ("transfer", "transfer"),
                    ("adjust", "adjust"),
                    ("inspect", "inspect"),
                    ("install", "install"),
                    ("remove", "remove"),
                    ("repair", "repair"),
                    ("scrap", "scrap"),
                    ("status_change", "status change"),
                ],
                default="",
                editable=False,
                help_text=(
                    "The event's type, kept on each line (events never change) so that a trace "
                    "finds an item's shipments and receipts from the lines alone."
                ),
                max_length=20,
                verbose_name="event type",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(copy_event_types, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="eventline",
            constraint=models.CheckConstraint(
                condition=models.Q(("event_type", ""), _negated=True),
                name="event_line_has_event_type",
                violation_error_message="An event line carries its event's type.",
            ),
        ),
        migrations.AddIndex(
            model_name="eventline",
            index=models.Index(
                fields=["item", "event_type", "event"], name="event_line_item_type_idx"
            ),
        ),
    ]
