"""Customers and companies in the sandbox: how Connect finds them, and the links between them.

Matching (reference §6). A customer is matched by ``Code``, else by ``EmailAddress`` unless
``SearchOnlyByCode`` is listed in ``CustomerFieldsThatAreSet``: a new Code whose e-mail an existing
customer has updates that customer (which keeps its Code) instead of creating one. Companies likewise
by ``Code``, else ``OrganizationNo`` unless ``SearchOnlyByCode`` is in ``CompanyFieldsThatAreSet``.
The sandbox assigns no ``Id``s, so matching by ``Id`` is not modelled.

Links. Customer-company links are one table (``company_links``) that both imports change: a
customer's ``Companies`` (``CompanyIdentifier``: resolved by Code, else OrganizationNo) and a
company's ``Customers`` (resolved by Code, else EmailAddress) must name existing items (others are
skipped with a Warning). With ``IsCompanyListDelta`` (``IsCustomerListDelta``) true the list adds its
links and keeps the others; false or absent, it replaces them: links it does not name are detached.
The contract's ``CompanyIdentifier`` has no ``IsActive`` or removal marker, so a single link is
removed only by a non-delta list that leaves it out. ``IsPrimary`` true makes a link the customer's
primary one (the others stop being primary); ``IsPrimary`` false makes a link not primary. A list
whose flag (``Companies``/``Customers``) is not listed is ignored with a Warning. Read back, each
customer's ``Companies`` holds every link, the primary one first.

Examples
--------
>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> _ = conn.execute(SCHEMA)
>>> link(conn, "CU1", ["CO1", "CO2"], primary="CO2", delta=False)
>>> link(conn, "CU1", ["CO3"], primary=None, delta=True)
>>> links_of(conn)["CU1"]
[{'Code': 'CO2', 'IsPrimary': True}, {'Code': 'CO1', 'IsPrimary': False}, {'Code': 'CO3'}]
>>> link(conn, "CU1", ["CO2"], primary=None, delta=True, demoted=["CO2"])
>>> links_of(conn)["CU1"]
[{'Code': 'CO1', 'IsPrimary': False}, {'Code': 'CO2', 'IsPrimary': False}, {'Code': 'CO3'}]
>>> link(conn, "CU1", ["CO3"], primary=None, delta=False)
>>> links_of(conn)["CU1"]
[{'Code': 'CO3'}]
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson

from toolkit.sandbox.prepare import Prepared

if TYPE_CHECKING:
    from toolkit.sandbox.import_log import Log

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS company_links (customer TEXT NOT NULL, company TEXT NOT NULL, "
    "is_primary INTEGER, PRIMARY KEY (customer, company))"
)
# customers' Companies were once stored on the customer: move them into the link table
MIGRATE = (
    "INSERT OR IGNORE INTO company_links SELECT c.Code, json_extract(e.value, '$.Code'), "
    "json_extract(e.value, '$.IsPrimary') FROM customers c, json_each(c.Companies) e "
    "WHERE c.Companies IS NOT NULL AND json_extract(e.value, '$.Code') IS NOT NULL",
    "UPDATE customers SET Companies = NULL WHERE Companies IS NOT NULL",
)
# entity: (field list, fallback member matched after Code, what, link list, its flag, its delta member)
_RULES = {
    "customers": ("CustomerFieldsThatAreSet", "EmailAddress", "customer", "Companies", "IsCompanyListDelta"),
    "companies": ("CompanyFieldsThatAreSet", "OrganizationNo", "company", "Customers", "IsCustomerListDelta"),
}
ENTITIES = frozenset(_RULES)


def resolve(conn: sqlite3.Connection, prepared: Prepared, log: Log) -> None:
    """Point rows of ``temp._in`` whose Code is unknown at the item their e-mail / org. no. names."""
    field_list, member, what, _, _ = _RULES[prepared.entity.name]
    if "SearchOnlyByCode" in prepared.header.listed(field_list):
        return
    table = prepared.entity.name
    new = conn.execute(f"SELECT _row, Code FROM _in WHERE Code NOT IN (SELECT Code FROM {table})").fetchall()
    for row, code in new:
        value = _raw(prepared, row).get(member)
        if not value:
            continue
        found = conn.execute(
            f"SELECT Code FROM {table} WHERE {member} = ? ORDER BY Code LIMIT 1", (value,)
        ).fetchone()
        if found is not None:
            conn.execute("UPDATE _in SET Code = ? WHERE _row = ?", (found[0], row))
            log(
                1,
                f"row {row}: {what} {code!r} matched by {member} {value!r} to the existing {what} "
                f"{found[0]!r} ({field_list} does not list SearchOnlyByCode)",
                row,
            )


def apply_links(conn: sqlite3.Connection, prepared: Prepared, log: Log) -> None:
    """Apply the link lists of the rows in ``temp._in`` (after ``resolve``)."""
    field_list, _, what, lists, delta_member = _RULES[prepared.entity.name]
    enabled = lists in prepared.header.listed(field_list)
    ignored: Counter[str] = Counter()
    for row, code in conn.execute("SELECT _row, Code FROM _in ORDER BY _row").fetchall():
        item = _raw(prepared, row)
        elements = item.get(lists)
        if not isinstance(elements, list):
            continue
        if not enabled:
            ignored[lists] += 1
            continue
        delta = item.get(delta_member) is True
        if prepared.entity.name == "customers":
            _link_companies(conn, row, code, elements, delta, log)
        else:
            _link_customers(conn, row, code, elements, delta, log)
    if "Companies" in prepared.nested:
        conn.execute("UPDATE _in SET Companies = NULL")  # kept in company_links, not on the customer
    for name, n in ignored.items():
        log(2, f"{name} of {n} {what}(s) ignored: {field_list} does not list {name}", None)


def _link_companies(
    conn: sqlite3.Connection, row: int, customer: str, elements: list[Any], delta: bool, log: Log
) -> None:
    codes, primary, demoted = [], None, []
    for e in elements:
        code = _find(conn, "companies", e, ("Code", "OrganizationNo"))
        if code is None:
            log(
                2,
                f"row {row}: customer {customer!r}: no company {_named(e, ('Code', 'OrganizationNo'))}; "
                "link not made",
                row,
            )
            continue
        codes.append(code)
        primary = code if e.get("IsPrimary") is True else primary
        demoted += [code] if e.get("IsPrimary") is False else []
    link(conn, customer, codes, primary=primary, delta=delta, demoted=demoted)


def _link_customers(
    conn: sqlite3.Connection, row: int, company: str, elements: list[Any], delta: bool, log: Log
) -> None:
    found = []
    for e in elements:
        code = _find(conn, "customers", e, ("Code", "EmailAddress"))
        if code is None:
            log(
                2,
                f"row {row}: company {company!r}: no customer {_named(e, ('Code', 'EmailAddress'))}; "
                "link not made",
                row,
            )
            continue
        found.append(code)
    if not delta:
        conn.execute(
            "DELETE FROM company_links WHERE company = ? AND customer NOT IN "
            "(SELECT value FROM json_each(?))",
            (company, orjson.dumps(found).decode()),
        )
    conn.executemany(
        "INSERT OR IGNORE INTO company_links (customer, company) VALUES (?, ?)", [(c, company) for c in found]
    )


def link(
    conn: sqlite3.Connection,
    customer: str,
    companies: list[str],
    *,
    primary: str | None,
    delta: bool,
    demoted: list[str] | None = None,
) -> None:
    """Link a customer to companies; ``delta`` False detaches the companies not named; ``primary``
    becomes the one primary link, the ``demoted`` ones (sent ``IsPrimary: false``) are not primary."""
    if not delta:
        conn.execute(
            "DELETE FROM company_links WHERE customer = ? AND company NOT IN "
            "(SELECT value FROM json_each(?))",
            (customer, orjson.dumps(companies).decode()),
        )
    conn.executemany(
        "INSERT OR IGNORE INTO company_links (customer, company) VALUES (?, ?)",
        [(customer, c) for c in companies],
    )
    if primary is not None:
        conn.execute(
            "UPDATE company_links SET is_primary = (company = ?) WHERE customer = ?", (primary, customer)
        )
    conn.executemany(
        "UPDATE company_links SET is_primary = 0 WHERE customer = ? AND company = ?",
        [(customer, c) for c in demoted or () if c != primary],
    )


def _find(conn: sqlite3.Connection, table: str, element: Any, members: tuple[str, ...]) -> str | None:
    """The Code of the item the first given member of ``element`` names, if it exists."""
    if not isinstance(element, dict):
        return None
    for member in members:
        if element.get(member):
            found = conn.execute(
                f"SELECT Code FROM {table} WHERE {member} = ? ORDER BY Code LIMIT 1", (element[member],)
            ).fetchone()
            return None if found is None else str(found[0])
    return None


def _named(element: Any, members: tuple[str, ...]) -> str:
    given = [f"{m} {element[m]!r}" for m in members if isinstance(element, dict) and element.get(m)]
    return given[0] if given else f"(neither {' nor '.join(members)} given)"


def _raw(prepared: Prepared, row: int) -> dict[str, Any]:
    items = prepared.items or []
    item = items[row - 1] if 0 < row <= len(items) else {}
    return item if isinstance(item, dict) else {}


def links_of(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every customer's company links, the primary one first, as ``Companies`` elements."""
    out: dict[str, list[dict[str, Any]]] = {}
    rows = conn.execute(
        "SELECT customer, company, is_primary FROM company_links "
        "ORDER BY customer, coalesce(is_primary, 0) DESC, rowid"
    )
    for customer, company, primary in rows:
        element: dict[str, Any] = {"Code": company}
        if primary is not None:
            element["IsPrimary"] = bool(primary)
        out.setdefault(customer, []).append(element)
    return out
