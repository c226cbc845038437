"""Where a part has been: every assembly a serial unit was installed in, and when."""

from django import template

from ..selectors import installation_periods

register = template.Library()


@register.inclusion_tag("inventory/_installations.html")
def unit_installations(unit, timeline):
    """A card for a unit that was ever installed in another; nothing (and no query) otherwise."""
    return {"unit": unit, "periods": installation_periods(timeline)}
