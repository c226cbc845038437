"""python manage.py recall open IDENTIFIER [IDENTIFIER …] --title T --reason R --classification …
python manage.py recall report REFERENCE --format csv|xlsx|json --output FILE"""

import functools
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.management.commands._output import check_writable, write_whole
from recalls.models import RecallCampaign
from recalls.reports import FILE_FORMATS
from recalls.selectors import campaign_by_reference, campaign_snapshot
from recalls.services import recall_open

NO_CAMPAIGN = "There is no recall campaign {reference}."
NO_USER = "There is no active user {username}."
NO_PDF = "PDF recall reports are not available yet; use csv, xlsx or json."


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
        parser.error = functools.partial(OneLineParser.error, parser)
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
            required=True,
            help="Who opens the campaign: its owner, named by the audit trail.",
        )

        reporting = actions.add_parser("report", help="Write a campaign's report.")
        reporting.add_argument("reference", metavar="REFERENCE")
        reporting.add_argument("--format", choices=["pdf", *FILE_FORMATS], required=True)
        reporting.add_argument("--output", metavar="FILE", required=True)

    def handle(self, *args, **options):
        if options["action"] == "report":
            return self._report(options)
        user = _acting_user(options["user"])
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

    def _report(self, options):
        if options["format"] == "pdf":
            raise CommandError(NO_PDF, returncode=2)
        try:
            campaign = campaign_by_reference(options["reference"])
        except RecallCampaign.DoesNotExist as exc:
            message = NO_CAMPAIGN.format(reference=options["reference"])
            raise CommandError(message, returncode=2) from exc
        output = Path(options["output"])
        check_writable(output)
        write_whole(output, FILE_FORMATS[options["format"]](campaign))
        self.stdout.write(f"Wrote the report of {campaign.reference} to {output}.")


def _acting_user(username: str):
    """Who the audit trail names: the user given (never a guess: a recall has an owner)."""
    users = get_user_model().objects.filter(is_active=True)
    user = users.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(NO_USER.format(username=username), returncode=2)
    return user
