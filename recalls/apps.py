from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecallsConfig(AppConfig):
    name = "recalls"
    verbose_name = _("Recalls")

    def ready(self):
        from . import jobs  # noqa: F401  (registers the background work recalls do)
