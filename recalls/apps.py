from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecallsConfig(AppConfig):
    name = "recalls"
    verbose_name = _("Recalls")

    def ready(self):
        from . import jobs  # noqa: F401  (registers the background work recalls do)

    def demo_load(self) -> dict[str, int]:
        """The demo's non-conformances and the recall one led to (seed_demo calls this)."""
        from .capa.demo import nonconformance_demo_load

        return nonconformance_demo_load()
