"""The owners card of a serial unit's page, with the forms staff use to register or transfer."""

from django import template

from ..forms import OwnerForm
from ..selectors import unit_ownerships

register = template.Library()


@register.inclusion_tag("inventory/_owners.html", takes_context=True)
def unit_owners(context, unit):
    """Owners past and present, for those who may see them; none of it (and no query) otherwise."""
    perms = context.get("perms")
    allowed = perms is not None and "inventory.view_unitownership" in perms
    ownerships = unit_ownerships(unit.pk) if allowed else []
    current = ownerships[0] if ownerships and ownerships[0].ended_on is None else None
    may_change = allowed and "inventory.add_unitownership" in perms
    return {
        "allowed": allowed,
        "unit": unit,
        "ownerships": ownerships,
        "current": current,
        "may_change": may_change,
        "may_withdraw": allowed and "inventory.change_unitownership" in perms,
        "form": context.get("owner_form") or (OwnerForm() if may_change else None),
        "sold": unit.shipped_on is not None,
    }
