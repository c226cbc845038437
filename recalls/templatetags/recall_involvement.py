"""The recalls a lot or unit is in, for its page: inventory's templates load this tag, so the
inventory app itself never imports recalls."""

from django import template

from ..selectors import item_involvement

register = template.Library()


@register.inclusion_tag("recalls/_involvement.html", takes_context=True)
def recall_involvement(context, item):
    """A card listing the campaign lines that name `item`; nothing for a user who may not
    see recalls (and then no query)."""
    perms = context.get("perms")
    allowed = perms is not None and "recalls.view_recallcampaign" in perms
    return {"allowed": allowed, "lines": item_involvement(item.pk) if allowed else []}
