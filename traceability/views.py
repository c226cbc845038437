"""Pages that draw on both apps: the dashboard; and the health check for load balancers."""

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from inventory import quality_selectors
from inventory import selectors as inventory_selectors
from inventory.models import ReleaseDecision
from recalls import selectors as recall_selectors
from recalls.capa.selectors import quality_dashboard


class DashboardView(TemplateView):
    """What needs attention today: open recalls, blocked and expiring stock, returns, claims."""

    template_name = "dashboard.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        recalls = None
        if user.has_perm("recalls.view_recallcampaign"):
            recalls = list(recall_selectors.open_campaigns())
        return super().get_context_data(
            counts=inventory_selectors.dashboard_counts(),
            open_recalls=recalls,
            attention_lots=inventory_selectors.lots_needing_attention(),
            recent_events=inventory_selectors.recent_events(),
            warranty_claims=inventory_selectors.open_warranty_claims(),
            **counterfeit_flags(user),
            **quality_release(user),
            **quality_cards(user),
            **kwargs,
        )


# --- Public verification ---


def counterfeit_flags(user) -> dict:
    """The dashboard's open counterfeit flags and their count; None for who may not see them."""
    if not user.has_perm("inventory.view_counterfeitflag"):
        return {"counterfeit_flags": None}
    return {
        "counterfeit_flags": list(inventory_selectors.open_counterfeit_flags()),
        "counterfeit_flag_count": inventory_selectors.open_counterfeit_flag_count(),
    }


# --- Health check ---

logger = logging.getLogger(__name__)


@never_cache
@require_GET
@login_not_required
def healthz(request):
    """200 when the database answers, 503 when it does not: for load balancers and monitors.

    Says nothing else about the installation (no versions, no counts), since anyone may ask.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database does not answer.")
        return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


# --- Quality control: release ---


def quality_release(user) -> dict:
    """Lots awaiting release, recent signed decisions and open deviations; None for who may not
    see release decisions. Five queries, whatever the numbers."""
    if not user.has_perm("inventory.view_releasedecision"):
        return {"quality_release": None}
    decision = ReleaseDecision.Decision
    return {
        "quality_release": True,
        "awaiting_release": list(quality_selectors.lots_awaiting_release()),
        "recent_decisions": [
            (
                _("Recently released"),
                list(quality_selectors.recent_release_decisions(decision.RELEASED)),
                _("No lot was released by signature yet."),
            ),
            (
                _("Recently rejected"),
                list(quality_selectors.recent_release_decisions(decision.REJECTED)),
                _("No lot was rejected by signature yet."),
            ),
        ],
        "open_deviations": list(quality_selectors.open_deviations()),
        "open_deviation_count": quality_selectors.open_deviation_count(),
    }


# --- Non-conformances and CAPA ---


def quality_cards(user) -> dict:
    """The dashboard's open non-conformances and overdue or due-soon CAPA actions; None for who
    may not see them."""
    if not user.has_perm("recalls.view_nonconformance"):
        return {"quality": None}
    return {"quality": quality_dashboard()}
