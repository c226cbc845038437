"""Load the demo data set: a food plant and an electronics maker, with one login per role."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory import demo

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
            counts = demo.demo_load()
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
