"""Pages that draw on both apps: the dashboard."""

from django.views.generic import TemplateView

from inventory import selectors as inventory_selectors
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


# --- Non-conformances and CAPA ---


def quality_cards(user) -> dict:
    """The dashboard's open non-conformances and overdue or due-soon CAPA actions; None for who
    may not see them."""
    if not user.has_perm("recalls.view_nonconformance"):
        return {"quality": None}
    return {"quality": quality_dashboard()}
