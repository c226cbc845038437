"""The non-conformances naming a lot or unit, for its page: inventory's templates load this
tag, so the inventory app itself never imports recalls."""

from django import template

from ..capa.selectors import campaign_nonconformances, item_nonconformances

register = template.Library()


@register.inclusion_tag("recalls/_item_nonconformances.html", takes_context=True)
def item_nonconformances_card(context, item):
    """A card listing the reports that name `item`, with a link to report one; nothing (and no
    query) for a user who may not see non-conformances."""
    perms = context.get("perms")
    allowed = perms is not None and "recalls.view_nonconformance" in perms
    return {
        "allowed": allowed,
        "may_add": allowed and "recalls.add_nonconformance" in perms,
        "item": item,
        "word": "lot" if item._meta.model_name == "lot" else "serial",
        "reports": item_nonconformances(item.pk) if allowed else [],
    }


@register.inclusion_tag("recalls/_campaign_nonconformances.html", takes_context=True)
def campaign_nonconformances_card(context, campaign):
    """The reports that led to a campaign, for its page; nothing for who may not see them."""
    perms = context.get("perms")
    allowed = perms is not None and "recalls.view_nonconformance" in perms
    return {"allowed": allowed, "reports": campaign_nonconformances(campaign) if allowed else []}
