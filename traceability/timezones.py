"""Dates and times in the reader's own time zone, which their browser tells us.

app.js stores the browser's IANA zone name (e.g. "America/Chicago") in the `tz` cookie; this
middleware activates it for the request, so templates, tables and exports show local times.
A missing or unknown name leaves the site's TIME_ZONE. Stored times stay UTC.
"""

import zoneinfo
from functools import lru_cache
from urllib.parse import unquote

from django.utils import timezone

COOKIE = "tz"


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_named(name: str | None) -> zoneinfo.ZoneInfo | None:
    if not name or name not in _known():
        return None
    return zoneinfo.ZoneInfo(name)


class TimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_named(unquote(request.COOKIES.get(COOKIE, "")))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
