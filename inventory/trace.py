"""The trace: from starting lots and units to everything downstream (forward) or upstream
(backward), with the parties that received or supplied any of it.

One SQL statement does the work on PostgreSQL and SQLite alike: a recursive CTE walks the
graph (genealogy links, installations, and serial units' production lots) with UNION, so an
item reached by several paths is visited once and bad data with cycles terminates; the same
statement returns each reached item's details, the edges among reached items, and the
shipments and receipts of every item. Depth (fewest steps from a root) and one path per item
are then computed from those rows by a breadth-first pass in memory, without more queries.
"""

from collections import defaultdict, deque
from dataclasses import dataclass, field
from enum import StrEnum

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from .models import EventLine, Genealogy, Item, Lot, Party, Product, SerialUnit, TraceEvent


class Direction(StrEnum):
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass
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
    party: Party
    items: list[TracedItem]

    def as_dict(self) -> dict:
        return {
            "name": self.party.name,
            "gln": self.party.gln,
            "items": [item.label for item in self.items],
        }


@dataclass
class TraceResult:
    direction: Direction
    roots: list[TracedItem]
    items: list[TracedItem]
    consignees: list[TracedParty]
    suppliers: list[TracedParty]

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
        """Every item once, depth-first under the item it was reached through, with its level."""
        children = defaultdict(list)
        for item in self.items:
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


def _edges_sql() -> str:
    """Every edge as (parent, child): the parent went into, or is part of, the child."""
    genealogy = Genealogy._meta.db_table
    serial_units = SerialUnit._meta.db_table
    return (
        f"SELECT parent_id AS parent, child_id AS child FROM {genealogy} "
        f"UNION ALL SELECT lot_id AS parent, item_id AS child FROM {serial_units} "
        "WHERE lot_id IS NOT NULL"
    )


def _trace_sql(roots_sql: str, direction: Direction) -> str:
    """The statement; its parameters are the roots' twice, then the ship and receive types."""
    here, there = ("parent", "child") if direction == Direction.FORWARD else ("child", "parent")
    edges = _edges_sql()
    tables = {
        "item": Item._meta.db_table,
        "lot": Lot._meta.db_table,
        "unit": SerialUnit._meta.db_table,
        "product": Product._meta.db_table,
        "line": EventLine._meta.db_table,
        "event": TraceEvent._meta.db_table,
    }
    return f"""
WITH RECURSIVE reach(node) AS (
    {roots_sql}
  UNION
    SELECT e.{there} FROM reach JOIN ({edges}) e ON e.{here} = reach.node
)
SELECT 'item', r.node, e.{here}, i.kind, p.sku, p.gtin, COALESCE(l.code, sl.code), s.serial
FROM reach r
JOIN {tables["item"]} i ON i.id = r.node
LEFT JOIN {tables["lot"]} l ON l.item_id = r.node
LEFT JOIN {tables["unit"]} s ON s.item_id = r.node
LEFT JOIN {tables["lot"]} sl ON sl.item_id = s.lot_id
JOIN {tables["product"]} p ON p.id = COALESCE(l.product_id, s.product_id)
LEFT JOIN ({edges}) e ON e.{there} = r.node AND e.{here} IN (SELECT node FROM reach)
UNION ALL
SELECT 'root', roots.item_id, NULL, NULL, NULL, NULL, NULL, NULL FROM ({roots_sql}) roots
UNION ALL
SELECT 'consignee', r.node, ev.destination_party_id, NULL, NULL, NULL, NULL, NULL
FROM reach r
JOIN {tables["line"]} el ON el.item_id = r.node
JOIN {tables["event"]} ev ON ev.id = el.event_id
WHERE ev.event_type = %s AND ev.destination_party_id IS NOT NULL
UNION ALL
SELECT 'supplier', r.node, ev.source_party_id, NULL, NULL, NULL, NULL, NULL
FROM reach r
JOIN {tables["line"]} el ON el.item_id = r.node
JOIN {tables["event"]} ev ON ev.id = el.event_id
WHERE ev.event_type = %s AND ev.source_party_id IS NOT NULL
UNION ALL
SELECT 'supplier', r.node, l.supplier_id, NULL, NULL, NULL, NULL, NULL
FROM reach r
JOIN {tables["lot"]} l ON l.item_id = r.node
WHERE l.supplier_id IS NOT NULL
"""


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
    params = [*params, *params, TraceEvent.Type.SHIP, TraceEvent.Type.RECEIVE]

    root_keys = set()
    nodes: dict[int, TracedItem] = {}
    incoming: dict[int, set[int]] = defaultdict(set)
    party_items: dict[str, dict[int, set[int]]] = {
        "consignee": defaultdict(set),
        "supplier": defaultdict(set),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row_kind, node, other, kind, sku, gtin, lot_code, serial in cursor.fetchall():
            if row_kind == "root":
                root_keys.add(node)
            elif row_kind == "item":
                if node not in nodes:
                    nodes[node] = TracedItem(node, kind, sku, gtin, lot_code, serial)
                if other is not None and other != node:
                    incoming[node].add(other)
            else:
                party_items[row_kind][other].add(node)

    _assign_depths(nodes, incoming, root_keys)
    roots = sorted((nodes[k] for k in root_keys if k in nodes), key=_order)
    items = sorted((item for k, item in nodes.items() if k not in root_keys), key=_order)
    parties = Party.objects.in_bulk(
        {party for by_party in party_items.values() for party in by_party}
    )
    return TraceResult(
        direction=direction,
        roots=roots,
        items=items,
        consignees=_parties(party_items["consignee"], parties, nodes),
        suppliers=_parties(party_items["supplier"], parties, nodes),
    )


def _order(item: TracedItem):
    return (item.depth, item.sku, item.lot or "", item.serial or "")


def _assign_depths(nodes, incoming, root_keys):
    """Breadth-first from the roots over the reached edges: fewest steps, one shortest path."""
    outgoing = defaultdict(list)
    for child, parents in incoming.items():
        for parent in parents:
            outgoing[parent].append(child)
    queue = deque()
    for key in sorted(root_keys):
        if key in nodes:
            queue.append(key)
    seen = set(queue)
    while queue:
        current = queue.popleft()
        for child in sorted(outgoing[current]):
            if child not in seen:
                seen.add(child)
                nodes[child].depth = nodes[current].depth + 1
                nodes[child].via = nodes[current]
                queue.append(child)


def _parties(by_party, parties, nodes):
    """Trading partners with the items they received or supplied; our own company is left out."""
    result = []
    for party_pk, item_keys in by_party.items():
        party = parties[party_pk]
        if party.is_internal:
            continue
        items = sorted((nodes[k] for k in item_keys if k in nodes), key=_order)
        result.append(TracedParty(party, items))
    return sorted(result, key=lambda p: (p.party.name, p.party.pk))
