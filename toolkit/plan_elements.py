"""Pure: what a plan does about nested lists and lists Connect cannot shrink by itself.

- **Supplier elements** (``OnHand``, ``PriceList``). Supplier rows are diffed on their row key
  (`toolkit._element_rows`), so an element whose key changes is a removed row plus an added one. Added
  rows are sent whole (every mapped field), their elements with ``IsActive: true`` listed (a
  deactivated element comes back); an element that no row of its product has any more is
  deactivated by its old key (``IsActive: false``, in ``OnhandFieldsThatAreSet`` /
  ``PriceFieldsThatAreSet``), in change and full feeds alike (FullFile only inactivates elements of
  warehouses and price lists that are in the import). A product that loses every row is a removed
  item as before. An element without its key is never sent.
- **Price lists** have no ``IsActive`` and no FullFile. A removed price list is ended: ``EndDate`` set
  to the plan's date, counted as deactivated (a feed with ``deactivate = "never"`` leaves it and says
  so). Where the source does not map ``EndDate``, price lists that come (back) into the source are sent
  ``EndDate: null``, so one ended earlier is open again.
- **Customer-company links.** A customer's ``CompanyCode`` is sent as a delta by default
  (``IsCompanyListDelta: true``): the new link is added as primary, the earlier one sent
  ``IsPrimary: false``. ``CompanyIdentifier`` has no member that removes one link, so the earlier link
  stays in Norce (not primary) and the plan says so; links other systems made are kept. A feed with
  ``company_links = "owned"`` owns all of its customers' links: its lists replace them.

Examples
--------
>>> import polars as pl
>>> from datetime import date
>>> from toolkit.config import Feed
>>> from toolkit.diff import diff_frames
>>> from toolkit.entities import ENTITIES
>>> ent, feed = ENTITIES["price_lists"], Feed("pl", "price_lists", "p", 1, "pl.csv", "csv")
>>> old = pl.DataFrame({"Code": ["PL1", "PL2"], "Name": ["a", "b"]})
>>> nested = NestedPlan.of(ent, feed, old.head(1), diff_frames(old, old.head(1), key="Code"),
...                        owns=True, today=date(2025, 5, 1), first=False)
>>> [(g.label, g.fields, g.frame.rows()) for g in nested.groups]
[('ended', ('EndDate',), [('PL2', datetime.date(2025, 5, 1))])]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import polars as pl

from toolkit._element_rows import ELEMENT_GROUPS
from toolkit.batches import Group
from toolkit.config import Feed
from toolkit.diff import Diff
from toolkit.entities import Entity
from toolkit.payloads.headers import item_columns
from toolkit.payloads.members import LINK_BEFORE, LINKS_DELTA, SUPPLIER_KEY
from toolkit.plan_parts import Parts

__all__ = ["NestedPlan"]


@dataclass
class NestedPlan:
    """The rows and diff the plan's parts see, and the groups, counts and notes added to them."""

    valid: pl.DataFrame
    diff: Diff
    groups: list[Group] = field(default_factory=list)
    deactivated: int = 0
    notes: list[str] = field(default_factory=list)
    links: str = ""  # customers: "delta" or "owned"

    @classmethod
    def of(
        cls,
        entity: Entity,
        feed: Feed,
        valid: pl.DataFrame,
        diff: Diff,
        *,
        owns: bool,
        today: date,
        first: bool,
    ) -> NestedPlan:
        """What ``entity``'s nested lists need, from the valid rows and their diff."""
        plan = cls(valid, diff)
        if entity.name == "supplier_products":
            plan._supplier(owns=owns)
        elif entity.name == "price_lists":
            plan._price_lists(owns=owns, today=today, first=first)
        elif entity.name == "customers":
            plan.links = feed.company_links
        return plan

    def finish(self, entity: Entity, parts: Parts) -> None:
        """Add the groups, counts and notes to the plan's ``parts`` (before its guard weighs them)."""
        parts.groups = [*(self._linked(entity, g) for g in parts.groups), *self.groups]
        parts.deactivated += self.deactivated
        parts.deactivating += self.deactivated
        parts.notes.extend(self.notes)
        if self.links:
            self._links_note(parts)

    def _supplier(self, *, owns: bool) -> None:
        present = self.valid.select(SUPPLIER_KEY).unique()
        leaving = self.diff.removed.join(present, on=SUPPLIER_KEY, how="semi")
        gone = self.diff.removed.join(present, on=SUPPLIER_KEY, how="anti")
        counts = {m: self._deactivate(m, leaving) for m in ELEMENT_GROUPS} if owns else {}
        said = [f"{n} {m}" for m, n in counts.items() if n]
        if said:
            self.notes.append(
                f"{' and '.join(said)} elements that left their product deactivated by "
                "their old key (IsActive false)"
            )
        elif leaving.height and not owns:
            self.notes.append(
                f"{leaving.height} supplier rows left their product: their elements are "
                'left active (deactivate = "never")'
            )
        self.valid = _active_elements(self.valid)
        self.diff = replace(self.diff, removed=gone, added=_active_elements(self.diff.added))

    def _deactivate(self, member: str, leaving: pl.DataFrame) -> int:
        """Group the elements of ``member`` that removed rows had and no current row has."""
        keys = [k for k in ELEMENT_GROUPS[member] if k in leaving.columns]
        if not keys or keys[0] != ELEMENT_GROUPS[member][0]:
            return 0
        cols = [SUPPLIER_KEY, *keys]
        old = leaving.select(cols).filter(pl.col(keys[0]) != "").unique(maintain_order=True)
        left = old.join(self.valid.select(cols).unique(), on=cols, how="anti", nulls_equal=True)
        if left.height:
            flag = f"{member}.IsActive"
            self.groups.append(
                Group(left.with_columns(pl.lit(False).alias(flag)), (flag,), (), label="deactivated")
            )
        return left.height

    def _price_lists(self, *, owns: bool, today: date, first: bool) -> None:
        removed, added = self.diff.removed, self.diff.added
        self.diff = replace(self.diff, removed=removed.clear())
        if removed.height and owns:
            ended = removed.select("Code").with_columns(pl.lit(today, pl.Date).alias("EndDate"))
            self.groups.append(Group(ended, ("EndDate",), (), label="ended"))
            self.deactivated = ended.height
            self.notes.append(
                f"{ended.height} removed price lists ended: EndDate {today.isoformat()} "
                "(a price list has no IsActive, and no FullFile removes it)"
            )
        elif removed.height:
            self.notes.append(
                f'{removed.height} removed price lists stay open in Norce (deactivate = "never")'
            )
        if owns and not first and added.height and "EndDate" not in self.valid.columns:
            reopened = added.select("Code").with_columns(pl.lit(None, pl.Date).alias("EndDate"))
            self.groups.append(Group(reopened, ("EndDate",), ("EndDate",), label="reopened"))
            self.notes.append(f"{added.height} price lists new to the source sent EndDate null (open)")

    def _linked(self, entity: Entity, group: Group) -> Group:
        """A customer group carrying ``CompanyCode`` marked as a delta (with the earlier link) or owned."""
        fields = group.fields if group.fields is not None else item_columns(entity, group.frame.columns)
        if not self.links or "CompanyCode" not in fields:
            return group
        frame = group.frame.with_columns(pl.lit(self.links == "delta").alias(LINKS_DELTA))
        before = self.diff.previous
        if self.links == "delta" and "CompanyCode" in before.columns:
            key = list(self.diff.key)
            was = before.select(*key, pl.col("CompanyCode").alias(LINK_BEFORE))
            frame = frame.join(was, on=key, how="left", nulls_equal=True, maintain_order="left")
        return replace(group, frame=frame, json=None)

    def _links_note(self, parts: Parts) -> None:
        changed, before = self.diff.changed, self.diff.previous
        if self.links != "delta" or "CompanyCode" not in before.columns or changed.is_empty():
            return
        left = changed["changed_fields"].list.contains("CompanyCode") & before["CompanyCode"].is_not_null()
        if left.any():
            parts.notes.append(
                f"{left.sum()} customers left a company: the earlier link stays in Norce, "
                "no longer primary, as a customer's Companies cannot remove one link "
                '(links other systems made are kept); company_links = "owned" replaces '
                "the links"
            )


def _active_elements(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows with ``IsActive: true`` for each element the source maps (not where it maps IsActive)."""
    flags = [
        pl.lit(True).alias(f"{m}.IsActive")
        for m, keys in ELEMENT_GROUPS.items()
        if keys[0] in rows.columns and f"{m}.IsActive" not in rows.columns
    ]
    return rows.with_columns(flags) if flags else rows
