"""python manage.py recall open IDENTIFIER [IDENTIFIER …] --title T --reason R --classification …
python manage.py recall report REFERENCE --format pdf|csv|xlsx|json --output FILE
    [--kind report|status|drill|notices]   (PDF only; the full recall report by default)"""

import functools
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.management.commands._output import check_writable, write_whole
from recalls import documents
from recalls.models import RecallCampaign
from recalls.reports import FILE_FORMATS
from recalls.selectors import campaign_by_reference, campaign_snapshot
from recalls.services import recall_open

NO_CAMPAIGN = "There is no recall campaign {reference}."
NO_USER = "There is no active user {username}."
# Owner of campaigns opened by a script that names no one: visible as such on every record.
COMMAND_LINE_USER = "command-line"
KIND_NEEDS_PDF = "--kind {kind} is a PDF document; use it with --format pdf."
NOT_A_DRILL = "{reference} is not a mock recall (drill); its report is --kind report."
PDF_KINDS = {
    "report": documents.report_pdf,
    "status": documents.status_report_pdf,
    "drill": documents.report_pdf,
    "notices": documents.notices_pdf,
}


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
            help="Who opens the campaign: its owner, named by the audit trail. Without it, "
            f"the owner is the account {COMMAND_LINE_USER!r}, which says so (it cannot sign in).",
        )

        reporting = actions.add_parser("report", help="Write a campaign's report.")
        reporting.add_argument("reference", metavar="REFERENCE")
        reporting.add_argument("--format", choices=["pdf", *FILE_FORMATS], required=True)
        reporting.add_argument("--output", metavar="FILE", required=True)
        reporting.add_argument(
            "--kind",
            choices=list(PDF_KINDS),
            default="report",
            help="Which PDF: the full recall report (a drill's is the drill report), the "
            "21 CFR 7.53 status report, the drill report, or every consignee notice.",
        )

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
        kind = options["kind"]
        if kind != "report" and options["format"] != "pdf":
            raise CommandError(KIND_NEEDS_PDF.format(kind=kind), returncode=2)
        try:
            campaign = campaign_by_reference(options["reference"])
        except RecallCampaign.DoesNotExist as exc:
            message = NO_CAMPAIGN.format(reference=options["reference"])
            raise CommandError(message, returncode=2) from exc
        if kind == "drill" and not campaign.is_drill:
            message = NOT_A_DRILL.format(reference=campaign.reference)
            raise CommandError(message, returncode=2)
        output = Path(options["output"])
        check_writable(output)
        if options["format"] == "pdf":
            try:
                content = PDF_KINDS[kind](campaign)
            except documents.PdfUnavailable as exc:
                raise CommandError(str(exc), returncode=2) from exc
        else:
            content = FILE_FORMATS[options["format"]](campaign)
        write_whole(output, content)
        self.stdout.write(f"Wrote the report of {campaign.reference} to {output}.")


def _acting_user(username: str | None):
    """Who the audit trail names: the user given, else the command line's own account (never a
    guess among people: a recall has an owner, and a script's campaign must say it was one)."""
    if not username:
        user, created = get_user_model().objects.get_or_create(
            username=COMMAND_LINE_USER,
            defaults={"first_name": "Command", "last_name": "line", "is_active": True},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user
    users = get_user_model().objects.filter(is_active=True)
    user = users.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(NO_USER.format(username=username), returncode=2)
    return user
