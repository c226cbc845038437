"""The demo's non-conformances, loaded by `seed_demo` after inventory's demo (through the
recalls app's `demo_load` hook, so inventory never imports recalls).

Three reports, written through the services as people would:
- incoming cells with low voltage, in its CAPA stage, with an action now overdue;
- a quiche lot held at the plant, under investigation;
- field failures of HX2 terminals from the first production lot, closed and signed, which led
  to a recall of the terminals at customers (completed and terminated, also signed).
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory.demo import DEMO_PASSWORD
from inventory.models import Lot, SerialUnit

from .. import services as recall_services
from ..models import CapaAction, NonConformance, RecallCampaign
from . import services

# The terminals a recall reaches at customers: none is under our control, so none is held.
AT_CUSTOMERS = (SerialUnit.Status.SHIPPED, SerialUnit.Status.IN_SERVICE)


def nonconformance_demo_load() -> dict[str, int]:
    """Add the demo's reports to a freshly loaded inventory demo; returns what it holds."""
    users = get_user_model().objects.in_bulk(["manager", "staff"], field_name="username")
    manager, staff = users["manager"], users["staff"]
    today = timezone.localdate()
    _cells(manager, staff, today)
    _quiche(manager, staff, today)
    _terminals(manager, staff, today)
    return {
        "non-conformances": NonConformance.objects.count(),
        "CAPA actions": CapaAction.objects.count(),
    }


def _cells(manager, staff, today):
    cells = Lot.objects.get(supplier_lot_code="KY21700-2501-B12")
    nc = services.nonconformance_report(
        title="Low open-circuit voltage on incoming 21700 cells",
        description=(
            "Sampling 32 of 200 cells at incoming inspection: 3 below the 3.45 V OCV minimum "
            "of the purchase specification (3.31 V, 3.38 V, 3.40 V)."
        ),
        severity=NonConformance.Severity.MAJOR,
        source=NonConformance.Source.INCOMING,
        detected_on=today - timedelta(days=74),
        items=[cells],
        party=cells.supplier,
        containment="Lot moved to the quarantine rack; remaining cells 100 % OCV-tested.",
        owner=manager,
        acting_user=staff,
    )
    services.nonconformance_advance(
        nonconformance=nc, status=NonConformance.Status.INVESTIGATING, acting_user=manager
    )
    services.nonconformance_update(
        nonconformance=nc,
        investigation="Kaiyuan's 8D: the cells sat 9 weeks in an unheated warehouse before "
        "shipment; self-discharge above their ageing limit.",
        root_cause="The supplier has no maximum storage time before shipment.",
        root_cause_category=NonConformance.RootCause.MATERIAL,
        disposition=NonConformance.Disposition.REWORK,
        disposition_note="Cells below 3.45 V scrapped; the rest used after 100 % OCV test.",
        acting_user=manager,
    )
    late = services.capa_action_add(
        nonconformance=nc,
        kind=CapaAction.Kind.CORRECTIVE,
        description="Kaiyuan to add a 6-week storage limit and an OCV check at shipment, "
        "with evidence on the next three lots.",
        owner=staff,
        due_on=today + timedelta(days=1),
        acting_user=manager,
    )
    services.capa_action_add(
        nonconformance=nc,
        kind=CapaAction.Kind.PREVENTIVE,
        description="Add the storage limit to the cell purchase specification (rev. D).",
        owner=manager,
        due_on=today + timedelta(days=10),
        acting_user=manager,
    )
    services.nonconformance_advance(
        nonconformance=nc, status=NonConformance.Status.ACTION, acting_user=manager
    )
    # Time has passed since the action was planned: it is now overdue on the dashboard.
    CapaAction.objects.filter(pk=late.pk).update(due_on=today - timedelta(days=5))


def _quiche(manager, staff, today):
    held = Lot.objects.filter(status=Lot.Status.ON_HOLD, product__sku="FG-QUICHE-SPF").first()
    if held is None:
        return
    services.nonconformance_report(
        title="Metal detector rejects on the spinach quiche line",
        description="Four rejects in one hour on line 2; one held a 2 mm stainless fragment.",
        severity=NonConformance.Severity.CRITICAL,
        source=NonConformance.Source.IN_PROCESS,
        detected_on=held.produced_on or today,
        items=[held],
        containment="The lot is on hold at the plant; line 2 stopped and its mixer inspected.",
        owner=manager,
        acting_user=staff,
    )


def _terminals(manager, staff, today):
    units = SerialUnit.objects.filter(product__sku="DEV-HX2", lot__isnull=False)
    first_lot = units.order_by("lot__produced_on", "lot__pk").values("lot").first()
    if first_lot is None:
        return
    at_customers = list(units.filter(lot=first_lot["lot"], status__in=AT_CUSTOMERS)[:6])
    nc = services.nonconformance_report(
        title="HX2 terminals shut down at 30-40 % charge",
        description=(
            "Field returns (RMA-24017): battery pack cell group B at 0.4 V. Packs of the first "
            "production lot hold cells of Kaiyuan lot KY21700-2411-A07."
        ),
        severity=NonConformance.Severity.MAJOR,
        source=NonConformance.Source.FIELD_RETURN,
        detected_on=today - timedelta(days=21),
        items=at_customers,
        containment="Spare packs from other cell lots only; customers told to charge daily.",
        owner=manager,
        acting_user=staff,
    )
    campaign = recall_services.recall_open(
        serial_units=at_customers,
        title=nc.title,
        reason=f"{nc.description} (non-conformance {nc.reference})",
        classification=RecallCampaign.Classification.CLASS_III,
        depth=RecallCampaign.Depth.RETAIL,
        acting_user=manager,
    )
    services.nonconformance_link_recall(nonconformance=nc, campaign=campaign, acting_user=manager)
    recall_services.recall_complete(
        campaign=campaign,
        password=DEMO_PASSWORD,
        statement="Every terminal was reached; packs exchanged on site.",
        acting_user=manager,
    )
    recall_services.recall_terminate(
        campaign=campaign,
        password=DEMO_PASSWORD,
        statement="Recall closed; the exchange is recorded per unit in the service records.",
        justification="The consignees confirmed by phone; their letters are on file.",
        acting_user=manager,
    )
    services.nonconformance_advance(
        nonconformance=nc, status=NonConformance.Status.INVESTIGATING, acting_user=manager
    )
    services.nonconformance_update(
        nonconformance=nc,
        investigation="Teardown of 3 packs: cell group B from KY21700-2411-A07 self-discharged.",
        root_cause="The pack test did not hold the pack long enough to see self-discharge.",
        root_cause_category=NonConformance.RootCause.MEASUREMENT,
        disposition=NonConformance.Disposition.RECALL,
        acting_user=manager,
    )
    action = services.capa_action_add(
        nonconformance=nc,
        kind=CapaAction.Kind.CORRECTIVE,
        description="Add a 48-hour OCV hold test to every pack before it is built in.",
        owner=staff,
        due_on=today,
        acting_user=manager,
    )
    services.nonconformance_advance(
        nonconformance=nc, status=NonConformance.Status.ACTION, acting_user=manager
    )
    services.capa_action_complete(
        action=action, note="Work instruction WI-PACK-07 rev. C released.", acting_user=staff
    )
    services.nonconformance_advance(
        nonconformance=nc, status=NonConformance.Status.EFFECTIVENESS, acting_user=manager
    )
    services.capa_action_verify(
        action=action,
        effective=True,
        note="Two packs caught by the hold test since; no field failure in 400 packs.",
        acting_user=manager,
    )
    services.nonconformance_close(
        nonconformance=nc,
        closure=NonConformance.Closure.EFFECTIVE,
        statement="Hold test effective; recall terminated.",
        password=DEMO_PASSWORD,
        acting_user=manager,
    )
