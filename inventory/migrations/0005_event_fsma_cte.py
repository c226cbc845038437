"""Record an event's FSMA 204 critical tracking event where its type alone cannot tell it.

Existing events keep an empty value, which reads as the default for their type (see
inventory/fsma.py), so no row is rewritten.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_event_line_event_type"),
    ]

    operations = [
        migrations.AddField(
            model_name="traceevent",
            name="fsma_cte",
            field=models.CharField(
                blank=True,
                choices=[
                    ("harvesting", "Harvesting"),
                    ("cooling", "Cooling"),
                    ("initial_packing", "Initial Packing"),
                    ("first_land_based_receiving", "First Land-Based Receiving"),
                    ("shipping", "Shipping"),
                    ("receiving", "Receiving"),
                    ("transformation", "Transformation"),
                    ("none", "not a critical tracking event"),
                ],
                db_default="",
                default="",
                help_text="Left empty, it follows from the event type: ship is Shipping, receive and return are Receiving, transform is Transformation, a transfer to another site is Shipping, anything else is none. Harvesting, cooling, initial packing and first land-based receiving are only ever recorded here.",
                max_length=30,
                verbose_name="FSMA 204 critical tracking event",
            ),
        ),
        migrations.AddConstraint(
            model_name="traceevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "fsma_cte__in",
                        [
                            "",
                            "harvesting",
                            "cooling",
                            "initial_packing",
                            "first_land_based_receiving",
                            "shipping",
                            "receiving",
                            "transformation",
                            "none",
                        ],
                    )
                ),
                name="event_fsma_cte_valid",
                violation_error_message="Unknown FSMA 204 critical tracking event.",
            ),
        ),
    ]
