"""Public authenticity checks: what a consumer sees when they scan a label's QR code (a GS1
Digital Link on our own host) or type its codes, with no login.

It reads both apps (a unit's recalls come from `recalls`), so it lives in the project. It
answers only what a consumer may know: genuine or not, the product, the production month, the
warranty and any recall's notice; never parties, owners, sites, prices, notes or user names.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote, urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_ratelimit.core import is_ratelimited

from inventory import selectors, services
from inventory.identifiers import IdentifierError, normalize_gtin, parse_identifier
from inventory.models import Product, SerialUnit, VerificationCheck
from recalls import selectors as recall_selectors

# The path of a GS1 Digital Link naming a unit or a lot: /01/<gtin>[/22/<cpv>][/10/<lot>]
# [/21/<serial>]. Values are matched still percent-encoded when the server hands us the raw
# path (a serial may hold an encoded "/"), then decoded.
DIGITAL_LINK_PATH = re.compile(
    r"^/01/(?P<gtin>[^/]*)(?:/22/(?P<cpv>[^/]+))?(?:/10/(?P<lot>.+?))?(?:/21/(?P<serial>.+?))?/?$"
)
RATE_GROUP = "public-verification"

NOT_A_LINK = _(
    "This link is not a product code we can read. Scan the QR code on the label again, or type "
    "the GTIN and serial number below."
)
PRODUCT_ONLY = _(
    "This code names a product but not one unit. Scan the code on the unit's own label, or type "
    "its serial number (after (21) or S/N) below."
)
NO_GTIN = _("This code has no GTIN (the 14 digits after (01)). Type the GTIN and serial below.")
NOTHING_GIVEN = _("Type the GTIN and the serial number, or paste what your scanner read.")
SERIAL_MISSING = _("Type the serial number too: it follows (21) or S/N on the label.")
GTIN_MISSING = _("Type the GTIN too: the 8 to 14 digits after (01) or under the barcode.")


class VerifyForm(forms.Form):
    code = forms.CharField(
        label=_("Scanned code or link"),
        required=False,
        max_length=500,
        help_text=_("Paste a link such as …/01/…/21/…, or a code such as (01)…(21)…"),
    )
    gtin = forms.CharField(label=_("GTIN"), required=False, max_length=20)
    serial = forms.CharField(label=_("Serial number"), required=False, max_length=100)


@dataclass
class Request:
    """What a consumer asked about: a GTIN with a serial, or with a lot only."""

    gtin: str = ""
    serial: str = ""
    lot: str = ""
    problem: str = ""
    raw_gtin: str = ""


@dataclass
class Answer:
    state: str  # genuine, unconfirmed, unknown_product, invalid, lot, unknown_lot
    asked: Request
    product_name: str = ""
    produced: date | None = None
    warranty: str = ""  # active, expired, starts, none
    warranty_ends_on: date | None = None
    recalls: list = field(default_factory=list)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or the entry our trusted proxies put in
    X-Forwarded-For (a client can write anything to the left of it)."""
    trusted = settings.VERIFY_TRUSTED_PROXIES
    if trusted:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= trusted:
            return hops[-trusted]
    return request.META.get("REMOTE_ADDR", "")


def _rate_key(group, request) -> str:
    return client_address(request)


def _limited(request) -> bool:
    return is_ratelimited(
        request, group=RATE_GROUP, key=_rate_key, rate=settings.VERIFY_RATE, increment=True
    )


def _with_gtin(asked: Request) -> Request:
    """The request with its GTIN as 14 digits, or with the reason it has none."""
    try:
        asked.gtin = normalize_gtin(asked.raw_gtin)
    except ValidationError as exc:
        asked.problem = exc.messages[0]
    return asked


def parse_link_path(path: str) -> Request:
    """Read a Digital Link path (/01/…); extra keys after it and the query are ignored."""
    match = DIGITAL_LINK_PATH.match(path)
    if match is None:
        return Request(problem=str(NOT_A_LINK), raw_gtin="")
    values = {name: unquote(value or "") for name, value in match.groupdict().items()}
    asked = _with_gtin(Request(raw_gtin=values["gtin"], serial=values["serial"], lot=values["lot"]))
    if not asked.problem and not asked.serial and not asked.lot:
        asked.problem = str(PRODUCT_ONLY)
    return asked


def _request_path(request) -> str:
    # Servers decode %2F in PATH_INFO; the raw URI, where the server gives it, keeps a serial's
    # encoded "/" apart from the path's own.
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI") or ""
    if raw.startswith("/01/"):
        return urlsplit(raw).path
    return request.path_info


def parse_form(data: dict) -> Request:
    """Read the form: a scanned code or link, else the GTIN and serial typed apart."""
    code = (data.get("code") or "").strip()
    if code:
        if code.lower().startswith(("http://", "https://")):
            return parse_link_path(urlsplit(code).path)
        try:
            ref = parse_identifier(code)
        except IdentifierError as exc:
            return Request(problem=str(exc), raw_gtin="")
        if ref.gtin_error:
            return Request(problem=ref.gtin_error)
        if not ref.gtin:
            return Request(problem=str(NO_GTIN))
        serial = ref.serial or ref.code or ""
        if not serial and not ref.lot:
            return Request(gtin=ref.gtin, problem=str(PRODUCT_ONLY))
        return Request(gtin=ref.gtin, raw_gtin=ref.gtin, serial=serial, lot=ref.lot or "")
    gtin, serial = (data.get("gtin") or "").strip(), (data.get("serial") or "").strip()
    if not gtin and not serial:
        return Request(problem=str(NOTHING_GIVEN))
    if not gtin:
        return Request(serial=serial, problem=str(GTIN_MISSING))
    asked = _with_gtin(Request(raw_gtin=gtin, serial=serial))
    if not asked.problem and not serial:
        asked.problem = str(SERIAL_MISSING)
    return asked


def _warranty(unit: SerialUnit, product: Product) -> tuple[str, date | None]:
    if unit.warranty_ends_on is not None:
        state = "active" if unit.is_under_warranty(timezone.localdate()) else "expired"
        return state, unit.warranty_ends_on
    if product.warranty_months:
        return "starts", None
    return "none", None


def _recalls(item) -> list:
    return recall_selectors.consumer_recalls(selectors.item_ancestry(item))


def _unit_answer(asked: Request, check: VerificationCheck) -> Answer:
    product, unit = check.product, check.serial_unit
    if product is None:
        return Answer("unknown_product", asked)
    # A unit we know to be under recall gets the notice whatever else we say: its safety comes
    # before hiding from a counterfeiter that the serial exists.
    recalls = _recalls(unit) if unit is not None else []
    genuine = check.result == VerificationCheck.Result.GENUINE and not (
        selectors.confirmed_counterfeit(product, check.serial)
    )
    if not genuine:
        # Unknown, never shipped, scrapped or a confirmed copy all read the same, so probing
        # serials teaches nothing about which ones exist or why one failed.
        return Answer("unconfirmed", asked, product_name=product.name, recalls=recalls)
    warranty, ends_on = _warranty(unit, product)
    return Answer(
        "genuine",
        asked,
        product_name=product.name,
        produced=unit.produced_on or (unit.lot.produced_on if unit.lot else None),
        warranty=warranty,
        warranty_ends_on=ends_on,
        recalls=recalls,
    )


def _lot_answer(asked: Request) -> Answer:
    product, lot = selectors.verification_lot(asked.gtin, asked.lot)
    if product is None:
        return Answer("unknown_product", asked)
    if lot is None:
        return Answer("unknown_lot", asked, product_name=product.name)
    return Answer(
        "lot", asked, product_name=product.name, produced=lot.produced_on, recalls=_recalls(lot)
    )


def _answer(request, asked: Request, via: str):
    if _limited(request):
        response = render(request, "public/limited.html", status=429)
        response["Retry-After"] = "60"
        return response
    if asked.problem:
        if asked.raw_gtin or asked.serial:
            # Garbage is logged too: someone probing codes shows up among the checks.
            services.verification_check_record(
                gtin=asked.raw_gtin,
                serial=asked.serial,
                via=via,
                client_address=client_address(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                valid=False,
            )
        answer = Answer("invalid", asked)
    elif not asked.serial:
        answer = _lot_answer(asked)
    else:
        check = services.verification_check_record(
            gtin=asked.gtin,
            serial=asked.serial,
            via=via,
            client_address=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        answer = _unit_answer(asked, check)
    form = VerifyForm(initial={"gtin": asked.gtin or asked.raw_gtin, "serial": asked.serial})
    return render(
        request,
        "public/verify.html",
        {"answer": answer, "form": form, "contact": settings.VERIFY_CONTACT},
    )


@login_not_required
@never_cache
@require_GET
def digital_link(request, rest=""):
    """A label's QR code scanned: /01/<gtin>/21/<serial> and the longer forms GS1 allows."""
    return _answer(request, parse_link_path(_request_path(request)), VerificationCheck.Via.LINK)


@login_not_required
@never_cache
@require_GET
def verify_form(request):
    """The form for typed or pasted codes; it answers on the same page."""
    if not any(name in request.GET for name in ("code", "gtin", "serial")):
        return render(
            request,
            "public/verify.html",
            {"answer": None, "form": VerifyForm(), "contact": settings.VERIFY_CONTACT},
        )
    return _answer(request, parse_form(request.GET), VerificationCheck.Via.FORM)
