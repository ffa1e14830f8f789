"""Connect semantics of customer and company imports in the sandbox, over HTTP: matching by e-mail /
organization number unless SearchOnlyByCode, and link lists that honour IsCompanyListDelta and
IsCustomerListDelta (links made by other imports survive a delta list)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

CUSTOMER_FIELDS = ["EmailAddress", "FirstName"]
KEY = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # Company.ApplicationKey, which Norce documents as required


def links(api: Any) -> dict[str, list[Any]]:
    """Each customer's company links as the catalog reads them back: [Code or (Code, IsPrimary)]."""
    return {
        c["Code"]: [
            (e["Code"], e["IsPrimary"]) if "IsPrimary" in e else e["Code"] for e in c.get("Companies", [])
        ]
        for c in api.items("customers")
    }


def companies(api: Any, *codes: str) -> None:
    items = [{"ApplicationKey": KEY, "Code": c, "Name": c} for c in codes]
    job = api.run("companies", items, api.header(CompanyFieldsThatAreSet=["Name"]))
    assert job["StatusId"] == 2


def test_a_new_customer_sharing_an_email_updates_the_existing_one_unless_search_only_by_code(
    api: Any,
) -> None:
    header = api.header(CustomerFieldsThatAreSet=CUSTOMER_FIELDS)
    api.run("customers", [{"Code": "CU1", "EmailAddress": "info@acme.se", "FirstName": "Ann"}], header)
    job = api.run("customers", [{"Code": "CU2", "EmailAddress": "info@acme.se", "FirstName": "Bob"}], header)
    assert (job["StatusId"], job["Inserts"], job["Updates"]) == (2, 0, 1)
    assert api.items("customers") == [{"Code": "CU1", "EmailAddress": "info@acme.se", "FirstName": "Bob"}]
    log = api.log(job["JobId"])
    assert any("matched by EmailAddress" in e["Message"] and e["ImportedRow"] == 1 for e in log), log
    # listed SearchOnlyByCode: matched on Code only, so a new Code is a new customer
    only_code = api.header(CustomerFieldsThatAreSet=[*CUSTOMER_FIELDS, "SearchOnlyByCode"])
    cid = {"Code": "CU3", "EmailAddress": "info@acme.se", "FirstName": "Cid"}
    job = api.run("customers", [cid], only_code)
    assert (job["Inserts"], job["Updates"]) == (1, 0)
    assert {c["Code"]: c["FirstName"] for c in api.items("customers")} == {"CU1": "Bob", "CU3": "Cid"}


def test_a_new_company_sharing_an_organization_number_updates_the_existing_one(api: Any) -> None:
    header = api.header(CompanyFieldsThatAreSet=["OrganizationNo", "Name"])

    def company(code: str, name: str) -> list[dict[str, Any]]:
        return [{"ApplicationKey": KEY, "Code": code, "OrganizationNo": "556000-1", "Name": name}]

    api.run("companies", company("CO1", "Acme"), header)
    api.run("companies", company("CO2", "Acme AB"), header)
    assert [(c["Code"], c["Name"]) for c in api.items("companies")] == [("CO1", "Acme AB")]
    api.run(
        "companies",
        company("CO3", "Other"),
        api.header(CompanyFieldsThatAreSet=["OrganizationNo", "Name", "SearchOnlyByCode"]),
    )
    assert [c["Code"] for c in api.items("companies")] == ["CO1", "CO3"]


def test_a_delta_company_list_keeps_links_other_imports_made(api: Any) -> None:
    companies(api, "F1", "F2", "F3")
    header = api.header(CustomerFieldsThatAreSet=["Companies"])
    api.run("customers", [{"Code": "CU1", "Companies": [{"Code": "F1", "IsPrimary": True}]}], header)
    # another system links CU1 to F3 as a delta: F1 stays
    api.run("customers", [{"Code": "CU1", "IsCompanyListDelta": True, "Companies": [{"Code": "F3"}]}], header)
    assert links(api) == {"CU1": [("F1", True), "F3"]}
    # a delta move to F2 (F2 primary) keeps F3; F1 stays too: the contract has no removal marker
    api.run(
        "customers",
        [{"Code": "CU1", "IsCompanyListDelta": True, "Companies": [{"Code": "F2", "IsPrimary": True}]}],
        header,
    )
    assert links(api) == {"CU1": [("F2", True), ("F1", False), ("F3", False)]}
    # a non-delta list (IsCompanyListDelta false or absent) replaces the links: F1 and F3 detached
    api.run(
        "customers",
        [{"Code": "CU1", "IsCompanyListDelta": False, "Companies": [{"Code": "F2", "IsPrimary": True}]}],
        header,
    )
    assert links(api) == {"CU1": [("F2", True)]}
    api.run("customers", [{"Code": "CU1", "Companies": []}], header)
    assert links(api) == {"CU1": []}


def test_company_links_resolve_by_organization_number_and_must_exist(api: Any) -> None:
    api.run(
        "companies",
        [{"ApplicationKey": KEY, "Code": "F1", "OrganizationNo": "556000-1"}],
        api.header(CompanyFieldsThatAreSet=["OrganizationNo"]),
    )
    named = [{"OrganizationNo": "556000-1"}, {"Code": "NOPE"}]
    job = api.run(
        "customers", [{"Code": "CU1", "Companies": named}], api.header(CustomerFieldsThatAreSet=["Companies"])
    )
    assert job["StatusId"] == 2
    assert links(api) == {"CU1": ["F1"]}
    warnings = [e["Message"] for e in api.log(job["JobId"]) if e["SeverityId"] == 2]
    assert any("no company Code 'NOPE'" in m for m in warnings), warnings


def test_a_company_customer_list_honours_is_customer_list_delta(api: Any) -> None:
    companies(api, "F1", "F2")
    api.run(
        "customers",
        [{"Code": c, "EmailAddress": f"{c}@x.se"} for c in ("CU1", "CU2")],
        api.header(CustomerFieldsThatAreSet=["EmailAddress"]),
    )
    api.run(
        "customers",
        [{"Code": "CU1", "Companies": [{"Code": "F2"}]}],
        api.header(CustomerFieldsThatAreSet=["Companies"]),
    )
    header = api.header(CompanyFieldsThatAreSet=["Customers"])
    # customers resolved by Code, else EmailAddress
    named = [{"Code": "CU1"}, {"EmailAddress": "CU2@x.se"}]
    api.run("companies", [{"ApplicationKey": KEY, "Code": "F1", "Customers": named}], header)
    assert links(api) == {"CU1": ["F2", "F1"], "CU2": ["F1"]}
    delta = {"ApplicationKey": KEY, "Code": "F1", "IsCustomerListDelta": True, "Customers": [{"Code": "CU2"}]}
    api.run("companies", [delta], header)
    assert links(api) == {"CU1": ["F2", "F1"], "CU2": ["F1"]}
    # non-delta: CU1 is detached from F1, its link to F2 (made by the customer import) stays
    api.run("companies", [{"ApplicationKey": KEY, "Code": "F1", "Customers": [{"Code": "CU2"}]}], header)
    assert links(api) == {"CU1": ["F2"], "CU2": ["F1"]}


def test_a_link_list_without_its_flag_is_ignored_with_a_warning(api: Any) -> None:
    r = api.http.post("/_sandbox/settings", json={"contract": "off"})  # Connect ignores such a list
    assert r.status_code == 200 or "unknown setting" in r.text, r.text
    companies(api, "F1")
    job = api.run(
        "customers",
        [{"Code": "CU1", "FirstName": "Ann", "Companies": [{"Code": "F1"}]}],
        api.header(CustomerFieldsThatAreSet=["FirstName"]),
    )
    assert job["StatusId"] == 2 and links(api) == {"CU1": []}
    warnings = [e["Message"] for e in api.log(job["JobId"]) if e["SeverityId"] == 2]
    assert warnings == [
        "Companies of 1 customer(s) ignored: CustomerFieldsThatAreSet does not list Companies"
    ]
