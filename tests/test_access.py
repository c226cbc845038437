"""Who may open what: every URL the project serves, asked for by every kind of visitor, checked
against one table of intended access kept here.

The URLs come from the URL configuration itself, so a view added later without a line in
ACCESS fails `test_every_view_is_in_the_access_table`, and a line left behind for a removed
view fails it too. Each visitor asks with GET; a visitor who may not use a view also POSTs to
it, which must be refused the same way (a view that only takes POST must still say 403, not
405, to who may not use it).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from .world import ADMINISTRATOR, ANONYMOUS, MANAGER, NO_ROLE, STAFF, VISITORS, world

__all__ = ["world"]  # the module's fixture

EVERY_ROLE = frozenset({STAFF, MANAGER, ADMINISTRATOR})
WORKERS = frozenset({STAFF, MANAGER})  # the two roles that do the daily work; recalls are theirs
MANAGERS = frozenset({MANAGER})
# Administrators keep records right: they may set a status, record service and correct owners.
CORRECTORS = frozenset({MANAGER, ADMINISTRATOR})


@dataclass(frozen=True)
class Access:
    """Who may use a view, what GET answers them, and the URL's arguments from the samples."""

    roles: frozenset = frozenset()
    get: int = 200  # 405: the view only takes POST; 302: it sends them on
    kwargs: object = None  # samples -> the URL's keyword arguments
    public: bool = False  # anyone, signed in or not, role or not
    any_signed_in: bool = False  # any signed-in user, with or without a role
    query: object = None  # samples -> what follows the reversed URL

    def allows(self, visitor: str) -> bool:
        if self.public:
            return True
        if visitor == ANONYMOUS:
            return False
        return self.any_signed_in or visitor in self.roles


def pk(name):
    return lambda samples: {"pk": samples[name].pk}


def campaign(**more):
    def kwargs(samples):
        values = {key: value(samples) for key, value in more.items()}
        return {"reference": samples["campaign"].reference, **values}

    return kwargs


# The intended access to every view. Roles get their permissions from the data migrations
# (inventory 0002, 0009, 0011; recalls 0002, 0004); this table says what those must add up to.
ACCESS = {
    "home": Access(EVERY_ROLE),
    "login": Access(public=True),
    "logout": Access(any_signed_in=True, get=405),  # Django signs out by POST only
    "digital_link": Access(  # a pattern without arguments: the path follows it
        public=True, query=lambda s: f"{s['unit'].product.gtin}/21/{s['unit'].serial}"
    ),
    "verify": Access(public=True),
    "healthz": Access(public=True),
    # Tracing and reports
    "trace": Access(EVERY_ROLE),
    "fsma204": Access(EVERY_ROLE),
    "search": Access(EVERY_ROLE),
    "expiry_report": Access(EVERY_ROLE),
    "epcis_import": Access(MANAGERS),
    "job_detail": Access(EVERY_ROLE, get=404, kwargs=pk("job")),  # another user's job
    "job_download": Access(EVERY_ROLE, get=404, kwargs=pk("job")),
    # Lists
    "product_list": Access(EVERY_ROLE),
    "lot_list": Access(EVERY_ROLE),
    "serial_list": Access(EVERY_ROLE),
    "event_list": Access(EVERY_ROLE),
    "party_list": Access(EVERY_ROLE),
    # Products, lots, units
    "product_detail": Access(EVERY_ROLE, kwargs=pk("product")),
    "lot_detail": Access(EVERY_ROLE, kwargs=pk("lot")),
    "lot_status": Access(CORRECTORS, get=405, kwargs=pk("lot")),
    "lot_epcis": Access(EVERY_ROLE, kwargs=pk("lot")),
    "lot_label": Access(EVERY_ROLE, kwargs=pk("lot")),
    "shipment_new": Access(MANAGERS),
    "serial_detail": Access(EVERY_ROLE, kwargs=pk("unit")),
    "serial_status": Access(CORRECTORS, get=405, kwargs=pk("unit")),
    "serial_epcis": Access(EVERY_ROLE, kwargs=pk("unit")),
    "serial_label": Access(EVERY_ROLE, kwargs=pk("unit")),
    "serial_service": Access(EVERY_ROLE, get=405, kwargs=pk("unit")),
    "serial_owner_register": Access(WORKERS, get=405, kwargs=pk("unit")),
    "serial_owner_transfer": Access(WORKERS, get=405, kwargs=pk("unit")),
    "serial_owner_consent_withdraw": Access(
        EVERY_ROLE,
        get=405,
        kwargs=lambda s: {"pk": s["ownership"].serial_unit_id, "ownership_pk": s["ownership"].pk},
    ),
    # Serial runs
    "serial_run_new": Access(MANAGERS),
    "serial_run_list": Access(EVERY_ROLE),
    "serial_run_detail": Access(EVERY_ROLE, kwargs=pk("run")),
    "serial_run_labels": Access(EVERY_ROLE, kwargs=pk("run")),
    # Warranty claims and returns
    "claim_list": Access(EVERY_ROLE),
    "claim_new": Access(WORKERS),
    "claim_detail": Access(EVERY_ROLE, kwargs=pk("claim")),
    "return_list": Access(EVERY_ROLE),
    "return_new": Access(WORKERS),
    "return_detail": Access(EVERY_ROLE, kwargs=pk("return")),
    "return_decide": Access(MANAGERS, get=405, kwargs=pk("return")),
    "return_repair": Access(MANAGERS, get=405, kwargs=pk("return")),
    "return_photo": Access(EVERY_ROLE, kwargs=pk("photo")),
    # Counterfeit flags
    "counterfeit_flag_list": Access(EVERY_ROLE),
    "counterfeit_flag": Access(EVERY_ROLE, kwargs=pk("flag")),
    # Quality control: specifications, results, release
    "specification_list": Access(EVERY_ROLE),
    "specification_detail": Access(EVERY_ROLE, kwargs=pk("specification")),
    "test_result_list": Access(EVERY_ROLE),
    "release_decision_list": Access(EVERY_ROLE),
    "deviation_list": Access(EVERY_ROLE),
    "deviation_detail": Access(
        EVERY_ROLE, kwargs=lambda s: {"reference": s["deviation"].reference}
    ),
    "certificate_file": Access(EVERY_ROLE, kwargs=pk("certificate")),
    "lot_results_new": Access(WORKERS, kwargs=lambda s: {"pk": s["result"].lot_id}),
    "lot_result_correct": Access(
        WORKERS, kwargs=lambda s: {"pk": s["result"].lot_id, "result_pk": s["result"].pk}
    ),
    "lot_release_sign": Access(MANAGERS, kwargs=lambda s: {"pk": s["result"].lot_id}),
    "lot_reject_sign": Access(MANAGERS, kwargs=lambda s: {"pk": s["result"].lot_id}),
    "lot_test_deviation": Access(WORKERS, get=405, kwargs=lambda s: {"pk": s["result"].lot_id}),
    "lot_quality_record": Access(EVERY_ROLE, kwargs=lambda s: {"pk": s["result"].lot_id}),
    # Quality control: process conditions (managers and staff record readings; managers and
    # administrators keep a product's limits, as its other master data)
    "measurement_list": Access(EVERY_ROLE),
    "measurement_record": Access(WORKERS, kwargs=lambda s: {"pk": s["reading"].event_id}),
    "condition_limit_new": Access(CORRECTORS, kwargs=lambda s: {"pk": s["limit"].product_id}),
    "condition_limit_edit": Access(
        CORRECTORS, kwargs=lambda s: {"pk": s["limit"].product_id, "limit_pk": s["limit"].pk}
    ),
    # Non-conformances and CAPA (administrators read them)
    "quality:nc_list": Access(EVERY_ROLE),
    "quality:nc_new": Access(WORKERS),
    "quality:nc_detail": Access(
        EVERY_ROLE, kwargs=lambda s: {"reference": s["nonconformance"].reference}
    ),
    "quality:nc_print": Access(
        EVERY_ROLE, kwargs=lambda s: {"reference": s["nonconformance"].reference, "fmt": "html"}
    ),
    "quality:action_list": Access(EVERY_ROLE),
    # Recalls
    "recalls:list": Access(WORKERS),
    "recalls:open": Access(MANAGERS),
    "recalls:campaign": Access(WORKERS, kwargs=campaign()),
    "recalls:start": Access(MANAGERS, get=405, kwargs=campaign()),
    "recalls:rescope": Access(MANAGERS, kwargs=campaign()),
    "recalls:resolve": Access(WORKERS, get=405, kwargs=campaign()),
    "recalls:line": Access(WORKERS, kwargs=campaign(pk=lambda s: s["line"].pk)),
    "recalls:reverse": Access(WORKERS, get=405, kwargs=campaign(pk=lambda s: s["resolution"].pk)),
    "recalls:notice_text": Access(MANAGERS, kwargs=campaign()),
    "recalls:send": Access(MANAGERS, get=405, kwargs=campaign()),
    "recalls:response": Access(WORKERS, kwargs=campaign(pk=lambda s: s["notice"].pk)),
    "recalls:complete": Access(MANAGERS, kwargs=campaign()),
    "recalls:terminate": Access(MANAGERS, kwargs=campaign()),
    "recalls:report_file": Access(WORKERS, kwargs=campaign(fmt=lambda s: "csv")),
    "recalls:owners": Access(WORKERS, kwargs=campaign()),
    "recalls:document": Access(
        WORKERS, kwargs=campaign(document=lambda s: "status", fmt=lambda s: "html")
    ),
    "recalls:status_report_issue": Access(WORKERS, get=405, kwargs=campaign()),
}


def _url_names(patterns=None, namespace=None):
    """Every named URL of the project, outside the admin site (checked on its own below)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == admin.site.name:
                continue
            yield from _url_names(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_view_is_in_the_access_table():
    names = list(_url_names())
    assert None not in names, "Every URL pattern needs a name, so the access table can hold it."
    missing = sorted(set(names) - set(ACCESS))
    stale = sorted(set(ACCESS) - set(names))
    assert not missing, f"Say who may open these views in ACCESS: {missing}"
    assert not stale, f"These views are gone; take them out of ACCESS: {stale}"


def _expected(access: Access, visitor: str) -> int:
    if access.allows(visitor):
        return access.get
    return 302 if visitor == ANONYMOUS else 403


@pytest.mark.django_db  # inside the module's transaction, each test in a savepoint of its own
@pytest.mark.parametrize("name", sorted(ACCESS))
def test_each_visitor_gets_the_answer_the_table_gives(world, name):
    access = ACCESS[name]
    url = reverse(name, kwargs=access.kwargs(world.samples) if access.kwargs else None)
    if access.query:
        url += access.query(world.samples)
    wrong = []
    for visitor in VISITORS:
        client = world.clients[visitor]
        with transaction.atomic():
            answer = client.get(url)
            transaction.set_rollback(True)
        expected = _expected(access, visitor)
        if answer.status_code != expected:
            wrong.append(f"{visitor}: GET {answer.status_code}, expected {expected}")
        elif (
            expected == 302
            and visitor == ANONYMOUS
            and urlsplit(answer["Location"]).path != reverse("login")
        ):
            wrong.append(f"{visitor}: sent to {answer['Location']}, not to sign in")
        if not access.allows(visitor):
            with transaction.atomic():
                posted = client.post(url, {})
                transaction.set_rollback(True)
            if posted.status_code != expected:
                wrong.append(f"{visitor}: POST {posted.status_code}, expected {expected}")
    assert not wrong, f"{url}: " + "; ".join(wrong)


# --- The admin site: its index and every registered model's list ---------------------------

# What administrators may not see in the admin: recalls are the quality roles' work (and the
# quality roles are not staff, so the admin sends them to its own sign-in); non-conformance
# reports and their actions, kept in the recalls app, administrators may read.
ADMIN_HIDDEN_APPS = {"recalls"}
ADMIN_READABLE = {"admin:recalls_nonconformance_changelist", "admin:recalls_capaaction_changelist"}


def _admin_urls():
    yield "admin:index", None
    for model in admin.site._registry:
        meta = model._meta
        yield f"admin:{meta.app_label}_{meta.model_name}_changelist", meta.app_label


def _admin_expected(visitor: str, name: str, app_label: str | None) -> tuple[int, str | None]:
    """The answer, and where a redirect leads: anonymous visitors sign in where everyone does,
    a user without a role hears why (as on every page), and the quality roles, who are not
    staff, meet the admin's own sign-in."""
    if visitor == ADMINISTRATOR:
        hidden = app_label in ADMIN_HIDDEN_APPS and name not in ADMIN_READABLE
        return (403 if hidden else 200), None
    if visitor == ANONYMOUS:  # the index is the admin's own page: its own sign-in
        return 302, reverse("admin:login" if app_label is None else "login")
    if visitor == NO_ROLE:
        return 403, None
    return 302, reverse("admin:login")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "app_label"), list(_admin_urls()))
def test_each_visitor_gets_the_admin_answer_for_their_role(world, name, app_label):
    url = reverse(name)
    wrong = []
    for visitor in VISITORS:
        answer = world.clients[visitor].get(url)
        expected, target = _admin_expected(visitor, name, app_label)
        if answer.status_code != expected:
            wrong.append(f"{visitor}: GET {answer.status_code}, expected {expected}")
        elif target and urlsplit(answer["Location"]).path != target:
            wrong.append(f"{visitor}: sent to {answer['Location']}, not to {target}")
    assert not wrong, f"{url}: " + "; ".join(wrong)
