"""Process conditions on the pages of others: a lot's or unit's readings and excursions, a
product's limits, the dashboard's excursions; so those pages' views need no code of their own."""

from django import template

from .. import selectors
from ..conditions import limit_copy_band as band

register = template.Library()


@register.filter
def limit_copy_band(limit: dict) -> str:
    """A limit copied onto a reading, in words: "2 to 8 °C"."""
    return band(limit)


@register.filter
def verdict_for(reading, item):
    """A reading's verdict for one lot or unit: by its product's limits only (None: none)."""
    product = getattr(item, "product_id", None)
    if product is None:
        return reading.within_limits
    mine = [limit["within"] for limit in reading.limits if limit["product"] == product]
    return None if not mine else all(mine)


@register.inclusion_tag("inventory/_process_conditions.html", takes_context=True)
def process_conditions(context, item):
    """A card of the readings on a lot's or unit's events and the excursions raised on it;
    nothing (and no query) for a user who may not see readings."""
    perms = context.get("perms")
    allowed = perms is not None and "inventory.view_measurement" in perms
    data = selectors.conditions_for_item(item) if allowed else {}
    return {"allowed": allowed, "item": item, "perms": perms, **data}


@register.inclusion_tag("inventory/_condition_limits.html", takes_context=True)
def condition_limits(context, product):
    """A product's condition limits, with the way to add or change them."""
    perms = context.get("perms")
    allowed = perms is not None and "inventory.view_conditionlimit" in perms
    return {
        "allowed": allowed,
        "product": product,
        "limits": list(selectors.conditions_product_limits(product)) if allowed else [],
        "may_edit": allowed and "inventory.change_conditionlimit" in perms,
        "may_add": allowed and "inventory.add_conditionlimit" in perms,
    }


@register.inclusion_tag("inventory/_dashboard_excursions.html", takes_context=True)
def excursions_card(context):
    """The dashboard's excursions of the last seven days; nothing for who may not see them."""
    perms = context.get("perms")
    allowed = perms is not None and "inventory.view_measurement" in perms
    return {
        "allowed": allowed,
        "excursions": selectors.conditions_excursions_recent() if allowed else None,
    }
