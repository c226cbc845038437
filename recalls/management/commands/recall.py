"""python manage.py recall open IDENTIFIER [IDENTIFIER …] --title T --reason R --classification …"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.management.commands.import_records import acting_user
from recalls.models import RecallCampaign
from recalls.selectors import campaign_snapshot
from recalls.services import recall_open


class OneLineParser(CommandParser):
    """Bad arguments end the command with exit status 2 and one line on standard error, as
    bad identifiers do (argparse would print the usage too)."""

    def error(self, message):
        text = f"{self.prog}: {message}"
        if self.called_from_command_line:
            self.exit(2, f"CommandError: {text}\n")
        raise CommandError(text, returncode=2)


class Command(BaseCommand):
    help = (
        "Open a recall campaign (or a mock-recall drill) for lots and serial units: the forward "
        "trace of the identifiers becomes its affected items and consignees, and affected stock "
        "still under our control is put on hold as recalled (a drill changes nothing)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds a plain CommandParser; only its error() is to differ.
        parser.__class__ = OneLineParser
        return parser

    def add_arguments(self, parser):
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="ACTION", parser_class=OneLineParser
        )
        opening = actions.add_parser("open", help="Open a campaign.")
        opening.add_argument("identifiers", nargs="+", metavar="IDENTIFIER")
        opening.add_argument("--title", required=True)
        opening.add_argument("--reason", required=True)
        opening.add_argument(
            "--classification", required=True, choices=RecallCampaign.Classification.values
        )
        opening.add_argument(
            "--drill", action="store_true", help="A mock recall: no stock status changes."
        )
        opening.add_argument("--format", choices=["text", "json"], default="text")
        opening.add_argument(
            "--user",
            metavar="USERNAME",
            help="Who the audit trail names (default: the first active superuser).",
        )

    def handle(self, *args, **options):
        try:
            user = acting_user(options["user"])
        except CommandError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        try:
            campaign = recall_open(
                identifiers=options["identifiers"],
                title=options["title"],
                reason=options["reason"],
                classification=options["classification"],
                is_drill=options["drill"],
                acting_user=user,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=2) from exc
        if options["format"] == "json":
            data = campaign_snapshot(campaign)
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(campaign.reference)
