"""A unit's warranty claims, for its page: one tag line in serial_detail.html."""

from django import template

from ..models import WarrantyClaim
from ..selectors import unit_claims

register = template.Library()


@register.inclusion_tag("inventory/_unit_claims.html", takes_context=True)
def unit_warranty_claims(context, unit):
    """A card of the unit's claims, newest first, and the way to open one; nothing for a user
    who may not see claims (and then no query)."""
    perms = context.get("perms")
    allowed = perms is not None and "inventory.view_warrantyclaim" in perms
    claims = list(unit_claims(unit)) if allowed else []
    may_open = (
        allowed
        and "inventory.add_warrantyclaim" in perms
        and not any(claim.status != WarrantyClaim.Status.CLOSED for claim in claims)
    )
    return {"allowed": allowed, "unit": unit, "claims": claims, "may_open": may_open}
