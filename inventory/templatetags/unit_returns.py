"""A serial unit's returns (RMA) for its page, so the page's view needs no code of its own."""

from django import template

from ..selectors import unit_returns as returns_of

register = template.Library()


@register.inclusion_tag("inventory/_unit_returns.html", takes_context=True)
def unit_returns(context, item):
    """A card of the unit's returns with "Register a return"; nothing (and no query) for a user
    who may not see returns."""
    perms = context.get("perms")
    allowed = perms is not None and "inventory.view_unitreturn" in perms
    returns = list(returns_of(item)) if allowed else []
    may_register = (
        allowed
        and "inventory.add_unitreturn" in perms
        and item.holder_party_id is not None
        and item.installed_in_id is None
        and all(unit_return.outcome for unit_return in returns)
    )
    return {"allowed": allowed, "item": item, "returns": returns, "may_register": may_register}
