"""The public checks of a unit and the counterfeit flags they raised, for the unit's page."""

from django import template

from ..selectors import unit_verification as unit_verification_data

register = template.Library()


@register.inclusion_tag("inventory/_verification.html", takes_context=True)
def unit_verification(context, item):
    """A card of the unit's flags, its check count and latest checks; nothing (and no query)
    for a user who may not see them."""
    perms = context.get("perms")
    allowed = perms is not None and "inventory.view_counterfeitflag" in perms
    data = unit_verification_data(item.pk) if allowed else {}
    return {"allowed": allowed, "item": item, **data}
