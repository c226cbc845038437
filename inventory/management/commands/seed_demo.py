"""Load the demo data set: a food plant and an electronics maker, with one login per role."""

import os
import sys

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

from inventory import demo

DEMO_EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
LOADED = "Loaded the demo data set: {summary}."
ALREADY_LOADED = "The demo data set is already loaded; nothing was changed."
LOGINS = "Demo logins:"


class Command(BaseCommand):
    help = (
        "Load a demo data set (a food plant and an electronics maker) with one login per role. "
        "Safe to run again: a loaded demo is left as it is."
    )

    def handle(self, *args, **options):
        try:
            # The demo's people are made up: what the loading would e-mail them (a CAPA
            # action's owner is told of it) goes nowhere, not to the console or a mail server.
            with override_settings(EMAIL_BACKEND=DEMO_EMAIL_BACKEND), transaction.atomic():
                counts = demo.demo_load()
                if counts is not None:
                    # Other apps add their part (recalls: its non-conformances); inventory
                    # does not import them.
                    for config in apps.get_app_configs():
                        if hasattr(config, "demo_load"):
                            counts.update(config.demo_load())
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if counts is None:
            self.stdout.write(ALREADY_LOADED)
        else:
            summary = ", ".join(f"{count} {label}" for label, count in counts.items())
            self.stdout.write(self.style.SUCCESS(LOADED.format(summary=summary)))
        self.stdout.write(f"\n{LOGINS}")
        rows = [("User name", "Role", "Name", "Password")] + [
            (user.username, user.role, user.full_name, demo.DEMO_PASSWORD)
            for user in demo.DEMO_USERS
        ]
        for username, role, name, password in rows:
            self.stdout.write(f"  {username:<10} {role:<18} {name:<18} {password}")
        self._examples()

    def _examples(self):
        """Demo lot codes are Julian dates of production, so show today's real ones."""
        from inventory.models import Lot

        held = Lot.objects.filter(status=Lot.Status.ON_HOLD).select_related("product").first()
        received = (
            Lot.objects.exclude(supplier_lot_code="")
            .filter(supplier_lot_code__regex=r"^\S+$")
            .order_by("pk")
            .first()
        )
        if held is None or received is None:
            return
        python = os.path.relpath(sys.executable)
        self.stdout.write("\nTry a trace (or paste the same text into the Trace page):")
        self.stdout.write(
            f'  {python} manage.py trace "{held.product.sku} lot {held.code}" --direction backward'
        )
        self.stdout.write(
            f"  {python} manage.py trace {received.supplier_lot_code} --direction forward"
            "   (a supplier's lot code)"
        )
