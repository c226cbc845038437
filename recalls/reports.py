"""A campaign's report files: CSV and XLSX with one row per affected item, JSON with everything.

Rows follow the snapshot (recalls/models.py): an item appears once for each place it was when
the campaign opened, with its consignee, quantity and resolution.
"""

import io
import json
from datetime import date, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font

from inventory import formulas

from .models import RecallCampaign
from .selectors import campaign_timeline, consignee_notices, report_items

COLUMNS = [
    "reference",
    "kind",
    "sku",
    "gtin",
    "lot",
    "serial",
    "depth",
    "path",
    "status at opening",
    "put on hold",
    "where at opening",
    "site",
    "consignee",
    "consignee GLN",
    "shipped by",
    "shipped",
    "installed in",
    "quantity",
    "unit",
    "resolution",
    "quantity resolved",
    "resolved by",
    "resolved",
    "evidence",
]


def _installed_in_label(row) -> str:
    if row.installed_in is None:
        return ""
    unit = row.installed_in.serialunit
    return f"{unit.product.sku} serial {unit.serial}"


def affected_rows(campaign: RecallCampaign) -> list[dict]:
    """One dict per snapshot row, keyed by COLUMNS, with typed values."""
    return [
        dict(
            zip(
                COLUMNS,
                [
                    campaign.reference,
                    row.kind,
                    row.product.sku,
                    row.product.gtin or "",
                    row.lot_code,
                    row.serial,
                    row.depth,
                    " > ".join(row.path),
                    row.status_at_opening,
                    row.put_on_hold,
                    row.get_whereabouts_display(),
                    row.site.code if row.site else "",
                    row.consignee.name if row.consignee else "",
                    (row.consignee.gln or "") if row.consignee else "",
                    row.shipped_by.name if row.shipped_by else "",
                    row.shipped_at,
                    _installed_in_label(row),
                    row.quantity,
                    row.unit,
                    row.get_resolution_display(),
                    row.resolved_quantity,
                    row.resolved_by.get_username() if row.resolved_by else "",
                    row.resolved_at,
                    row.evidence,
                ],
                strict=True,
            )
        )
        for row in report_items(campaign)
    ]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_bytes(campaign: RecallCampaign) -> bytes:
    out = io.StringIO()
    writer = formulas.csv_writer(out)
    writer.writerow(COLUMNS)
    for row in affected_rows(campaign):
        writer.writerow(_text(value) for value in row.values())
    return out.getvalue().encode()


def _cell(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)  # Excel has no time zones
    return value


def xlsx_bytes(campaign: RecallCampaign) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = campaign.reference
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in affected_rows(campaign):
        sheet.append([_cell(value) for value in row.values()])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a code starting with "=" is text, never a formula
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def campaign_report(campaign: RecallCampaign) -> dict:
    """Everything about a campaign: its details, affected items, notices and timeline."""
    return {
        "reference": campaign.reference,
        "title": campaign.title,
        "reason": campaign.reason,
        "hazard": campaign.hazard,
        "classification": campaign.classification,
        "depth": campaign.depth,
        "public_warning": campaign.public_warning,
        "effectiveness_check": campaign.effectiveness_check,
        "status": campaign.status,
        "is_drill": campaign.is_drill,
        "owner": campaign.owner.get_username(),
        "scope": campaign.scope,
        "opened_at": campaign.opened_at,
        "trace_seconds": campaign.trace_duration.total_seconds()
        if campaign.trace_duration
        else None,
        "estimated_completion_on": campaign.estimated_completion_on,
        "completed_at": campaign.completed_at,
        "terminated_at": campaign.terminated_at,
        "affected": [
            {name.lower().replace(" ", "_"): value for name, value in row.items()}
            for row in affected_rows(campaign)
        ],
        "consignees": [
            {
                "name": notice.party.name,
                "gln": notice.party.gln,
                "contact": notice.party.contact_name,
                "email": notice.party.email,
                "phone": notice.party.phone,
                "address": notice.party.address,
                "received": notice.received,
                "method": notice.method,
                "sent_at": notice.sent_at,
                "acknowledged_at": notice.acknowledged_at,
                "unit": notice.unit,
                "quantity_on_hand": notice.quantity_on_hand,
                "quantity_returned": notice.quantity_returned,
                "quantity_destroyed": notice.quantity_destroyed,
                "quantity_corrected": notice.quantity_corrected,
                "check_result": notice.check_result,
                "notes": notice.notes,
            }
            for notice in consignee_notices(campaign)
        ],
        "timeline": [
            {
                "occurred_at": entry.occurred_at,
                "kind": entry.kind,
                "who": entry.actor.get_username() if entry.actor else None,
                "message": entry.message,
                "details": entry.details,
            }
            for entry in campaign_timeline(campaign)
        ],
    }


def json_bytes(campaign: RecallCampaign) -> bytes:
    text = json.dumps(
        campaign_report(campaign), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False
    )
    return text.encode()


FILE_FORMATS = {"csv": csv_bytes, "xlsx": xlsx_bytes, "json": json_bytes}


# The campaign's files by extension: what writes them, and their content type.
FORMATS = {
    "csv": (csv_bytes, "text/csv; charset=utf-8"),
    "xlsx": (xlsx_bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "json": (json_bytes, "application/json"),
}
