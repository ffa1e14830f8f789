"""The sample shop's B2B customers: Swedish and Norwegian companies and their contacts, as a CRM holds them.

Rows are dicts keyed by canonical column names (companies: Code, Name, OrganizationNo, ...; customers:
Code, EmailAddress, FirstName, ..., CompanyCode); ``_country`` and ``_domain`` are bookkeeping.
"""

from __future__ import annotations

import random
from typing import Any

from toolkit.sample.words import (
    NO_FIRST,
    NO_LAST,
    NO_PLACES,
    NO_TRADES,
    SV_FIRST,
    SV_LAST,
    SV_PLACES,
    SV_TRADES,
    ascii_slug,
)

Row = dict[str, Any]


def luhn_digit(digits: str) -> str:
    """The Luhn check digit that completes a Swedish organisation number.

    >>> luhn_digit("556012579")  # AB Volvo, 556012-5790
    '0'
    """
    total = 0
    for i, d in enumerate(int(c) for c in digits):
        v = d * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return str((10 - total % 10) % 10)


def mod11_digit(digits: str) -> str | None:
    """The mod-11 check digit of a Norwegian organisation number, or None when there is none.

    >>> mod11_digit("92360901")  # Equinor ASA, 923 609 016
    '6'
    """
    total = sum(int(d) * w for d, w in zip(digits, (3, 2, 7, 6, 5, 4, 3, 2), strict=True))
    check = 11 - total % 11
    return None if check == 10 else str(check % 11)


def _org_number(rng: random.Random, country: str) -> tuple[str, str]:
    """(OrganizationNo, VatNo) for a Swedish aktiebolag or a Norwegian aksjeselskap."""
    if country == "SE":
        body = f"556{rng.randrange(10**6):06d}"
        number = body + luhn_digit(body)
        return f"{number[:6]}-{number[6:]}", f"SE{number}01"
    while (check := mod11_digit(body := f"9{rng.randrange(10**7):07d}")) is None:
        pass
    return body + check, f"NO{body}{check}MVA"


def _phone(rng: random.Random, country: str, *, mobile: bool = False) -> str:
    """A phone number in the country's usual grouping."""

    def digits(lo: int, hi: int) -> int:
        return rng.randrange(lo, hi)

    if country == "SE":
        prefix = rng.choice(("70", "72", "73", "76")) if mobile else rng.choice(("8", "31", "63", "90"))
        return f"+46 {prefix} {digits(100, 1000)} {digits(10, 100)} {digits(10, 100)}"
    if mobile:
        return f"+47 {rng.choice('49')}{digits(10, 100)} {digits(10, 100)} {digits(100, 1000)}"
    return f"+47 {digits(21, 78)} {digits(10, 100)} {digits(10, 100)} {digits(10, 100)}"


def _company_name(rng: random.Random, country: str, taken: set[str]) -> str:
    trades, places = (SV_TRADES, SV_PLACES) if country == "SE" else (NO_TRADES, NO_PLACES)
    while True:
        trade, place = rng.choice(trades), rng.choice(places)
        name = f"{trade} {place} AB" if country == "SE" else f"{place} {trade} AS"
        if name not in taken:
            taken.add(name)
            return name


def build_companies(rng: random.Random, count: int = 150) -> list[Row]:
    """``count`` companies, about 60 % Swedish; four of them head small chains (ParentCompanyCode)."""
    taken: set[str] = set()
    rows = [_company(rng, 10001 + i, taken) for i in range(count)]
    for parent in rng.sample(rows, 4):
        for child in rng.sample([r for r in rows if r["_country"] == parent["_country"]], 3):
            is_free = child["ParentCompanyCode"] is None and parent["ParentCompanyCode"] is None
            if child is not parent and is_free:
                child["ParentCompanyCode"] = parent["Code"]
    return rows


def _company(rng: random.Random, number: int, taken: set[str]) -> Row:
    country = "SE" if rng.random() < 0.62 else "NO"
    name = _company_name(rng, country, taken)
    org, vat = _org_number(rng, country)
    domain = ascii_slug(name[:-3]) + (".se" if country == "SE" else ".no")
    mailbox = rng.choice(("info", "order", "inkop" if country == "SE" else "innkjop"))
    return {
        "Code": f"F{number}",
        "Name": name,
        "OrganizationNo": org,
        "VatNo": vat,
        "EmailAddress": f"{mailbox}@{domain}",
        "PhoneNumber": _phone(rng, country),
        "ParentCompanyCode": None,
        "IsActive": True,
        "_country": country,
        "_domain": domain,
    }


def build_customers(rng: random.Random, companies: list[Row], count: int = 400) -> list[Row]:
    """``count`` contacts: every company has at least one, the rest spread at random."""
    homes = companies + rng.choices(companies, k=count - len(companies))
    emails: set[str] = set()
    return [_customer(rng, 100001 + i, company, emails) for i, company in enumerate(homes)]


def _customer(rng: random.Random, number: int, company: Row, emails: set[str]) -> Row:
    country = company["_country"]
    first = rng.choice(SV_FIRST if country == "SE" else NO_FIRST)
    last = rng.choice(SV_LAST if country == "SE" else NO_LAST)
    row = {
        "Code": f"K{number}",
        "CrmId": _crm_id(rng),
        "FirstName": first,
        "LastName": last,
        "CellPhoneNumber": _phone(rng, country, mobile=True),
        "IsActive": True,
        "CompanyCode": company["Code"],
    }
    row["EmailAddress"] = contact_email(first, last, company["_domain"], emails)
    return row


def _crm_id(rng: random.Random) -> str:
    """A CRM record id in the 18-character style of the big CRMs."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "003" + "".join(rng.choice(alphabet) for _ in range(15))


def contact_email(first: str, last: str, domain: str, taken: set[str]) -> str:
    """``first.last@domain``, ASCII, with a number added when the address is taken."""
    base = f"{ascii_slug(first)}.{ascii_slug(last)}"
    email, n = f"{base}@{domain}", 1
    while email in taken:
        n += 1
        email = f"{base}{n}@{domain}"
    taken.add(email)
    return email
