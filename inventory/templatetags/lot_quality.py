"""A lot's quality control card and a unit's test results, so the pages' views need no code."""

from django import template

from .. import quality_selectors as selectors

register = template.Library()


@register.inclusion_tag("inventory/quality/_lot_quality.html", takes_context=True)
def lot_quality(context, lot):
    """The card for who may see results; nothing (and no query) for the others."""
    perms = context.get("perms")
    allowed = perms is not None and "inventory.view_testresult" in perms
    if not allowed:
        return {"allowed": False}
    quality = selectors.lot_quality(lot)
    # A product that needs no release and has no specification shows the card only when a
    # deviation or a decision concerns the lot.
    shown = bool(
        lot.product.requires_release
        or quality.specification
        or quality.deviations
        or quality.decisions
    )
    return {
        "allowed": shown,
        "lot": lot,
        "quality": quality,
        "may_enter": "inventory.add_testresult" in perms and quality.specification is not None,
        "may_sign": "inventory.sign_releasedecision" in perms,
        "may_request": "inventory.add_deviation" in perms,
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("inventory/quality/_unit_results.html", takes_context=True)
def unit_results(context, item):
    """A unit's results when its product is tested per unit."""
    perms = context.get("perms")
    allowed = (
        perms is not None and "inventory.view_testresult" in perms and item.product.tests_per_unit
    )
    results = selectors.unit_results(item) if allowed else []
    superseded = {result.supersedes_id for result in results if result.supersedes_id}
    return {"allowed": allowed, "item": item, "results": results, "superseded": superseded}
