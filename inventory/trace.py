"""The trace: from starting lots and units to everything downstream (forward) or upstream
(backward), with the parties that received or supplied any of it.

One SQL statement does the work on PostgreSQL and SQLite alike: a recursive CTE walks the
genealogy (transformations, installations, units built in production lots) with UNION, so an
item reached by several paths is visited once and bad data with cycles terminates; the same
statement returns each reached item's details, the edges among reached items, and the
shipments and receipts of every item (each shipment to a trading partner with its quantity,
time and sender, which a recall's snapshot needs). Depth (fewest steps from a root) and one
path per item are then computed from those rows by a breadth-first pass in memory, without
more queries.
"""

from collections import defaultdict, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet

from .models import EventLine, Genealogy, Item, Lot, Party, Product, SerialUnit, Site, TraceEvent


class Direction(StrEnum):
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass(slots=True)
class TracedItem:
    pk: int
    kind: str
    sku: str
    gtin: str | None
    lot: str | None
    serial: str | None
    depth: int = 0
    via: "TracedItem | None" = field(default=None, repr=False)

    @property
    def path(self) -> list["TracedItem"]:
        """One shortest chain of items from a root to this item, both included."""
        chain, step = [], self
        while step is not None:
            chain.append(step)
            step = step.via
        return chain[::-1]

    @property
    def label(self) -> str:
        """The identifier people read and can type back into a trace: 'SKU lot CODE'."""
        if self.kind == Item.Kind.LOT:
            return f"{self.sku} lot {self.lot}"
        return f"{self.sku} serial {self.serial}"

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "sku": self.sku,
            "gtin": self.gtin,
            "lot": self.lot,
            "serial": self.serial,
            "depth": self.depth,
            "path": [step.label for step in self.path],
        }


@dataclass
class TracedParty:
    """A trading partner that received (consignee) or supplied (supplier) traced items."""

    pk: int
    name: str
    gln: str | None
    items: list[TracedItem]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "gln": self.gln,
            "items": [item.label for item in self.items],
        }


@dataclass(slots=True)
class Shipment:
    """One event line shipping a reached item to a trading partner (a consignee)."""

    item: int
    party: int
    sender: int | None  # the trading partner who passed it on; None when we shipped it
    quantity: Decimal | None
    occurred_at: datetime


@dataclass
class TraceResult:
    direction: Direction
    roots: list[TracedItem]
    items: list[TracedItem]
    consignees: list[TracedParty]
    suppliers: list[TracedParty]
    shipments: list[Shipment] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "direction": str(self.direction),
            "roots": [root.as_dict() for root in self.roots],
            "items": [item.as_dict() for item in self.items],
            "consignees": [party.as_dict() for party in self.consignees],
            "suppliers": [party.as_dict() for party in self.suppliers],
        }

    @property
    def all_items(self) -> list[TracedItem]:
        return [*self.roots, *self.items]

    def tree(self) -> list[tuple[TracedItem, int]]:
        """Every item once, depth-first under the item it was reached through, with its level;
        siblings in the order people read them (SKU, then lot or serial)."""
        children = defaultdict(list)
        for item in sorted(self.items, key=_order):
            children[item.via.pk if item.via else None].append(item)
        rows, stack = [], [(root, 0) for root in reversed(self.roots)]
        while stack:
            item, level = stack.pop()
            rows.append((item, level))
            stack.extend((child, level + 1) for child in reversed(children[item.pk]))
        return rows


def _sql(queryset: QuerySet) -> tuple[str, tuple]:
    compiler = queryset.query.get_compiler(using=queryset.db)
    return compiler.as_sql()


def _trace_sql(roots_sql: str, direction: Direction) -> str:
    """The statement; its parameters: the roots', SERIAL, LOT, the roots' again, then SHIP,
    SHIP, SHIP, False, RECEIVE, False.

    Rows: ('item', node, a neighbour it may have been reached from, kind, sku, gtin, lot,
    serial) for every reached item; ('root', node) for the starting items; ('consignee' or
    'supplier', node, party, NULL, name, GLN, NULL, NULL, sender, quantity, time) for every
    shipment to or receipt from a trading partner (our own company is not one) of a reached
    item, where the sender is the trading partner a shipment came from, if one did.
    """
    here, there = ("parent_id", "child_id")
    if direction == Direction.BACKWARD:
        here, there = there, here
    t = {
        "genealogy": Genealogy._meta.db_table,
        "lot": Lot._meta.db_table,
        "unit": SerialUnit._meta.db_table,
        "product": Product._meta.db_table,
        "line": EventLine._meta.db_table,
        "event": TraceEvent._meta.db_table,
        "site": Site._meta.db_table,
        "party": Party._meta.db_table,
    }
    # Typed NULLs: the first SELECT of the UNIONs decides the columns' types.
    null = {
        "key": f"CAST(NULL AS {Party._meta.pk.rel_db_type(connection)})",
        "quantity": f"CAST(NULL AS {EventLine._meta.get_field('quantity').db_type(connection)})",
        "time": f"CAST(NULL AS {TraceEvent._meta.get_field('occurred_at').db_type(connection)})",
    }
    return f"""
WITH RECURSIVE reach(node) AS (
    {roots_sql}
  UNION
    SELECT g.{there} FROM reach JOIN {t["genealogy"]} g ON g.{here} = reach.node
)
SELECT 'item', r.node, g.{here}, CASE WHEN l.item_id IS NULL THEN %s ELSE %s END,
       p.sku, p.gtin, COALESCE(l.code, sl.code), s.serial, {null["key"]}, {null["quantity"]},
       {null["time"]}
FROM reach r
LEFT JOIN {t["lot"]} l ON l.item_id = r.node
LEFT JOIN {t["unit"]} s ON s.item_id = r.node
LEFT JOIN {t["lot"]} sl ON sl.item_id = s.lot_id
JOIN {t["product"]} p ON p.id = COALESCE(l.product_id, s.product_id)
LEFT JOIN {t["genealogy"]} g ON g.{there} = r.node
UNION ALL
SELECT 'root', roots.item_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM ({roots_sql}) roots
UNION ALL
SELECT x.role, x.node, x.party, NULL, pa.name, pa.gln, NULL, NULL, x.sender, x.quantity,
       x.occurred_at
FROM (
    SELECT CASE WHEN ev.event_type = %s THEN 'consignee' ELSE 'supplier' END AS role,
           r.node AS node,
           CASE WHEN ev.event_type = %s THEN COALESCE(ev.destination_party_id, ds.party_id)
                ELSE COALESCE(ev.source_party_id, ss.party_id) END AS party,
           CASE WHEN ev.event_type = %s AND sp.is_internal = %s THEN sp.id END AS sender,
           el.quantity, ev.occurred_at
    FROM reach r
    JOIN {t["line"]} el ON el.item_id = r.node AND el.event_type IN (%s, %s)
    JOIN {t["event"]} ev ON ev.id = el.event_id
    LEFT JOIN {t["site"]} ds ON ds.id = ev.destination_site_id
    LEFT JOIN {t["site"]} ss ON ss.id = ev.source_site_id
    LEFT JOIN {t["party"]} sp ON sp.id = COALESCE(ev.source_party_id, ss.party_id)
  UNION ALL
    SELECT 'supplier', r.node, l.supplier_id, NULL, NULL, NULL
    FROM reach r
    JOIN {t["lot"]} l ON l.item_id = r.node
    WHERE l.supplier_id IS NOT NULL
) x
JOIN {t["party"]} pa ON pa.id = x.party AND pa.is_internal = %s
"""


@contextmanager
def _index_lookups():
    """On PostgreSQL, plan the trace with index lookups, for the trace only.

    PostgreSQL guesses that a recursive CTE yields hundreds of thousands of rows and hashes
    whole tables to join it; a trace reaches a small part of them, which index lookups serve
    in milliseconds. JIT compiling would cost more than the query itself.
    """
    if connection.vendor != "postgresql":
        yield
        return
    # Inside a caller's transaction (opening a recall, say), the settings would outlast the
    # trace and slow the caller's own bulk reads tenfold: they are put back afterwards.
    outer = connection.in_atomic_block
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin'), "
            "current_setting('jit'), set_config('enable_hashjoin', 'off', true), "
            "set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)"
        )
        hashjoin, mergejoin, jit = cursor.fetchone()[:3]
        yield
        if outer:
            cursor.execute(
                "SELECT set_config('enable_hashjoin', %s, true), "
                "set_config('enable_mergejoin', %s, true), set_config('jit', %s, true)",
                [hashjoin, mergejoin, jit],
            )


def trace(
    *,
    direction: Direction | str,
    lots: QuerySet | None = None,
    serial_units: QuerySet | None = None,
) -> TraceResult:
    """Trace from the given lots and units (querysets, so a date range stays one query)."""
    direction = Direction(direction)
    parts, params = [], []
    for queryset in (lots, serial_units):
        if queryset is None:
            continue
        try:
            sql, sql_params = _sql(queryset.order_by().values("item_id"))
        except EmptyResultSet:
            # .none() or pk__in=[] compiles to no SQL at all: it starts nothing.
            continue
        parts.append(f"SELECT * FROM ({sql}) roots_{len(parts)}")
        params.extend(sql_params)
    if not parts:
        return TraceResult(direction, [], [], [], [])
    roots_sql = " UNION ".join(parts)
    sql = _trace_sql(roots_sql, direction)
    ship, receive = TraceEvent.Type.SHIP, TraceEvent.Type.RECEIVE
    kinds = [Item.Kind.SERIAL, Item.Kind.LOT]
    params = [*params, *kinds, *params, ship, ship, ship, False, ship, receive, False]

    root_keys = set()
    nodes: dict[int, TracedItem] = {}
    incoming: dict[int, set[int]] = defaultdict(set)
    party_items = {"consignee": defaultdict(set), "supplier": defaultdict(set)}
    party_names = {}
    shipments = []
    quantity, moment = _converters(EventLine, "quantity"), _shipment_times()
    with _index_lookups(), connection.cursor() as cursor:
        _load_times_natively(cursor)
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            row_kind, node, other, kind, sku, gtin, lot_code, serial = row[:8]
            if row_kind == "item":
                if node not in nodes:
                    nodes[node] = TracedItem(node, kind, sku, gtin, lot_code, serial)
                if other is not None and other != node:
                    incoming[node].add(other)  # kept below only if `other` was reached too
            elif row_kind == "root":
                root_keys.add(node)
            else:
                party_items[row_kind][other].add(node)
                party_names[other] = (sku, gtin)
                if row_kind == "consignee":
                    shipments.append(
                        Shipment(node, other, row[8], quantity(row[9]), moment(row[10]))
                    )

    roots = sorted((nodes[k] for k in root_keys if k in nodes), key=_order)
    items = _breadth_first(nodes, incoming, roots)
    return TraceResult(
        direction=direction,
        roots=roots,
        items=items,
        consignees=_parties(party_items["consignee"], party_names, nodes),
        suppliers=_parties(party_items["supplier"], party_names, nodes),
        shipments=[shipment for shipment in shipments if shipment.item in nodes],
    )


def _converters(model, name: str):
    """Turn a column's raw value into the field's Python value, as querysets do (SQLite gives
    decimals as floats and times as text; psycopg gives them ready)."""
    column = model._meta.get_field(name).get_col(model._meta.db_table)
    converters = connection.ops.get_db_converters(column)
    if not converters:
        return _same

    def convert(value):
        for converter in converters:
            value = converter(value, column, connection)
        return value

    return convert


def _same(value):
    return value


def _load_times_natively(cursor):
    """On PostgreSQL, have psycopg's own timestamp loader read this cursor's times.

    Django's loader (a Python subclass of psycopg's, for the time zone) costs a second over
    the 86,000 shipments of a big recall; psycopg's native one reads them in a tenth of that,
    and _shipment_times() gives each distinct time Django's time zone once.
    """
    if connection.vendor != "postgresql":
        return
    from psycopg import postgres
    from psycopg.pq import Format

    oid = postgres.types["timestamptz"].oid
    cursor.cursor.adapters.register_loader(oid, postgres.adapters.get_loader(oid, Format.TEXT))


def _shipment_times():
    """Turn the trace's raw shipment times into aware datetimes, as querysets give them, once
    per distinct time: a shipment's many lines share its event's time."""
    convert = _converters(TraceEvent, "occurred_at")
    # What Django's loader does on PostgreSQL: the session's time zone is the connection's.
    # Looked up once: each use of `connection` goes through its thread-local proxy.
    zone = connection.timezone if connection.vendor == "postgresql" else None
    seen = {}

    def moment(value):
        known = seen.get(value)
        if known is None:
            known = convert(value)
            if zone is not None and known is not None:
                known = known.replace(tzinfo=zone)
            seen[value] = known
        return known

    return moment


def _order(item: TracedItem):
    return (item.depth, item.sku, item.lot or "", item.serial or "")


def _breadth_first(nodes, incoming, roots):
    """Every reached item in breadth-first order from the roots, each with its fewest steps
    and one shortest path. Ties go by SKU and code, so the chosen path is the same in every
    database that holds the same records (an exported and imported one too)."""
    outgoing = defaultdict(list)
    for child in sorted(incoming, key=lambda key: _order(nodes[key])):
        for parent in incoming[child]:
            if parent in nodes:
                outgoing[parent].append(child)
    seen = {root.pk for root in roots}
    queue, order = deque(roots), []
    while queue:
        current = queue.popleft()
        for key in outgoing[current.pk]:
            if key not in seen:
                seen.add(key)
                child = nodes[key]
                child.depth = current.depth + 1
                child.via = current
                order.append(child)
                queue.append(child)
    return order


def _parties(by_party, party_names, nodes):
    result = [
        TracedParty(
            pk,
            *party_names[pk],
            sorted((nodes[key] for key in item_keys if key in nodes), key=_order),
        )
        for pk, item_keys in by_party.items()
    ]
    return sorted(result, key=lambda party: (party.name, party.pk))
