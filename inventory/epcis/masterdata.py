"""Master data in an EPCIS header: what the export says of the products, lots, sites and parties
its events name, and what an import reads back when it creates them.

GS1's CBV master data attributes carry names and addresses; what CBV has no attribute for
(a product's SKU and tracking, a site's code and owner, a party's roles, a lot's supplier) is
written with our own attribute URIs, urn:tracewell:mda#…, so an exported database imports into
an empty one with the same traces, names and consignees. An import only uses master data for
the records it creates; records it finds are never changed by a document.
"""

import re
from dataclasses import dataclass, field

from .parse import EpcError, Kind, gtin_of_class, parse_epc, private_sku_of_class

PRODUCT_VOCABULARY = "urn:epcglobal:epcis:vtype:EPCClass"
LOCATION_VOCABULARY = "urn:epcglobal:epcis:vtype:BusinessLocation"
READ_POINT_VOCABULARY = "urn:epcglobal:epcis:vtype:ReadPoint"
PARTY_VOCABULARY = "urn:epcglobal:epcis:vtype:Party"
INSTANCE_VOCABULARY = "urn:epcglobal:epcis:vtype:EPCInstance"
CBV = "urn:epcglobal:cbv:mda#"
OURS = "urn:tracewell:mda#"
NAME_ATTRIBUTES = ("name", "descriptionShort", "tradeItemDescription", "regulatedProductName")

# Our field → the attribute URI it is written as.
ADDRESS = {
    "street": CBV + "streetAddressOne",
    "city": CBV + "city",
    "region": CBV + "state",
    "postal_code": CBV + "postalCode",
    "country": CBV + "countryCode",
}
PRODUCT = {
    "name": CBV + "descriptionShort",
    "sku": OURS + "sku",
    "tracking": OURS + "tracking",
    "unit": OURS + "unit",
    "shelf_life_days": OURS + "shelfLifeDays",
    "warranty_months": OURS + "warrantyMonths",
    "on_food_traceability_list": OURS + "foodTraceabilityList",
}
SITE = {
    "name": CBV + "name",
    "code": OURS + "code",
    "kind": OURS + "siteKind",
    "phone": OURS + "phone",
    **ADDRESS,
}
SITE_OWNER = OURS + "owner"
PARTY = {
    "name": CBV + "name",
    "contact_name": OURS + "contactName",
    "email": OURS + "email",
    "phone": OURS + "phone",
    **ADDRESS,
}
PARTY_ROLES = OURS + "roles"  # "internal supplier customer carrier", any of them
ROLE_FIELDS = {
    "internal": "is_internal",
    "supplier": "is_supplier",
    "customer": "is_customer",
    "carrier": "is_carrier",
}
LOT = {
    "expires_on": CBV + "itemExpirationDate",
    "produced_on": OURS + "producedOn",
    "supplier_lot_code": OURS + "supplierLotCode",
    "status": OURS + "status",
}
LOT_SUPPLIER = OURS + "supplier"
LOT_SITE = OURS + "site"
UNIT = {
    "produced_on": OURS + "producedOn",
    "status": OURS + "status",
    "shipped_on": OURS + "shippedOn",
    "warranty_ends_on": OURS + "warrantyEndsOn",
    "warranty_overridden": OURS + "warrantyOverridden",
}
UNIT_HOLDER_SITE = OURS + "holderSite"
UNIT_HOLDER_PARTY = OURS + "holderParty"


def _short(attribute_id: str) -> str:
    return re.split(r"[#/:]", attribute_id)[-1]


def attributes(fields: dict[str, str], record) -> list[dict]:
    """The non-empty fields of a record as EPCIS master data attributes."""
    out = []
    for name, attribute_id in fields.items():
        value = getattr(record, name)
        if value in (None, "", False):
            continue
        if isinstance(value, bool):
            value = "true"
        elif not isinstance(value, str):
            value = value.isoformat() if hasattr(value, "isoformat") else str(value)
        out.append({"id": attribute_id, "attribute": value})
    return out


def party_roles(party) -> list[dict]:
    roles = [role for role, name in ROLE_FIELDS.items() if getattr(party, name)]
    return [{"id": PARTY_ROLES, "attribute": " ".join(roles)}] if roles else []


@dataclass
class Described:
    """What the header says of one identifier: our field names → values, and references."""

    identifier: str
    values: dict[str, str] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # owner, supplier, site


@dataclass
class MasterData:
    products: dict[tuple, Described] = field(default_factory=dict)
    lots: dict[tuple, Described] = field(default_factory=dict)
    units: dict[tuple, Described] = field(default_factory=dict)
    sites: dict[tuple, Described] = field(default_factory=dict)
    parties: dict[tuple, Described] = field(default_factory=dict)

    def party(self, key) -> Described | None:
        # A GLN may be described only as a location; its name then names the party too.
        described = self.parties.get(key)
        if described is None and key in self.sites:
            site = self.sites[key]
            described = Described(site.identifier, {"name": site.values.get("name", "")})
        return described

    def site(self, key) -> Described | None:
        described = self.sites.get(key)
        if described is None and key in self.parties:
            party = self.parties[key]
            described = Described(party.identifier, {"name": party.values.get("name", "")})
        return described


_FIELDS_BY_ATTRIBUTE = {
    "product": {uri: name for name, uri in PRODUCT.items()},
    "site": {uri: name for name, uri in SITE.items()},
    "party": {uri: name for name, uri in PARTY.items()},
    "lot": {uri: name for name, uri in LOT.items()},
    "unit": {uri: name for name, uri in UNIT.items()},
}
_REFERENCES = {
    SITE_OWNER: "owner",
    LOT_SUPPLIER: "supplier",
    LOT_SITE: "site",
    UNIT_HOLDER_SITE: "holder_site",
    UNIT_HOLDER_PARTY: "holder_party",
}


def _values(kind: str, element: dict) -> Described:
    described = Described(str(element.get("id")))
    fields = _FIELDS_BY_ATTRIBUTE[kind]
    attributes = element.get("attributes") or []
    for attribute in attributes if isinstance(attributes, list) else []:
        if not isinstance(attribute, dict):
            continue
        attribute_id = str(attribute.get("id") or "")
        value = attribute.get("attribute")
        if value is None or isinstance(value, (dict, list)):
            continue
        value = str(value).strip()
        if attribute_id in _REFERENCES:
            described.references[_REFERENCES[attribute_id]] = value
        elif attribute_id == PARTY_ROLES:
            described.values["roles"] = value
        elif attribute_id in fields:
            described.values[fields[attribute_id]] = value
        elif _short(attribute_id) in NAME_ATTRIBUTES and "name" not in described.values:
            described.values["name"] = value
        elif kind == "lot" and _short(attribute_id) in ("itemExpirationDate", "bestBeforeDate"):
            described.values.setdefault("expires_on", value)
    return described


def read(document: dict) -> MasterData:
    """The header's master data, by the keys the importer looks records up with."""
    master = MasterData()
    header = document.get("epcisHeader") if isinstance(document, dict) else None
    if not isinstance(header, dict):
        return master
    master_data = header.get("epcisMasterData")
    if not isinstance(master_data, dict):
        return master
    vocabularies = master_data.get("vocabularyList") or []
    for vocabulary in vocabularies if isinstance(vocabularies, list) else []:
        if not isinstance(vocabulary, dict):
            continue
        elements = vocabulary.get("vocabularyElementList") or []
        for element in elements if isinstance(elements, list) else []:
            if isinstance(element, dict) and element.get("id"):
                _read_element(master, str(vocabulary.get("type") or ""), element)
    return master


def _read_element(master: MasterData, vocabulary: str, element: dict):
    identifier = str(element["id"])
    gtin = gtin_of_class(identifier)
    sku = private_sku_of_class(identifier)
    try:
        epc = parse_epc(identifier)
    except EpcError:
        epc = None
    if epc is not None and epc.kind == Kind.LOT:
        master.lots[(epc.product_key, epc.code)] = _values("lot", element)
    elif epc is not None and epc.kind == Kind.SERIAL:
        master.units[(epc.product_key, epc.code)] = _values("unit", element)
    elif gtin or sku:
        master.products[("gtin", gtin) if gtin else ("sku", sku)] = _values("product", element)
    elif epc is None or epc.kind not in (Kind.LOCATION, Kind.PARTY):
        return
    elif vocabulary == PARTY_VOCABULARY or (
        epc.kind == Kind.PARTY and vocabulary not in (LOCATION_VOCABULARY, READ_POINT_VOCABULARY)
    ):
        master.parties[epc.place_key] = _values("party", element)
    else:
        master.sites[epc.place_key] = _values("site", element)
