from django.views.generic import TemplateView

from . import selectors


class HomeView(TemplateView):
    template_name = "inventory/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            counts=selectors.dashboard_counts(),
            attention_lots=selectors.lots_needing_attention(),
            recent_events=selectors.recent_events(),
            warranty_claims=selectors.open_warranty_claims(),
            **kwargs,
        )
