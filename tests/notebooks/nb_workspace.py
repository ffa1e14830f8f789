"""The notebook tests' tiny workspace (norce.toml and two small sources) and notebook copies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

NORCE_TOML = """\
[settings]
state_dir = ".norce"

[profiles.sandbox]
base_url = "http://127.0.0.1:9"
client_id = "sandbox"
scope = "sandbox"
application_key = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"

[feeds.stock]
entity = "onhands"
profile = "sandbox"
account = "ERP"
source = "data/stock.csv"
policies = { max_reject_ratio = 0.5 }

[feeds.companies]
entity = "companies"
profile = "sandbox"
account = "CRM"
source = "data/companies.csv"
"""

STOCK_CSV = """\
PartNo,WarehouseCode,LocationCode,OnhandValue,IncomingValue,LeadTimeDayCount,IsActive
SKU-1,WH1,A,10,0,2,true
SKU-2,WH1,A,5,3,4,true
SKU-3,WH1,A,0,8,7,true
SKU-4,WH1,A,-1,,x,true
"""

COMPANIES_CSV = """\
Code,Name,OrganizationNo,EmailAddress,IsActive
C1,Acme AB,556000-0001,info@acme.example,true
C2,Beta AB,556000-0002,info@beta.example,true
"""

# day 2 of the companies export: C2 renamed, C1's e-mail changed, C3 new
COMPANIES_DAY2_CSV = """\
Code,Name,OrganizationNo,EmailAddress,IsActive
C1,Acme AB,556000-0001,order@acme.example,true
C2,Beta Nordic AB,556000-0002,info@beta.example,true
C3,Gamma AB,556000-0003,info@gamma.example,true
"""


def write_workspace(directory: Path) -> Path:
    """Write norce.toml and tiny sources (stock with one bad row, companies days 1 and 2)."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / "norce.toml").write_text(NORCE_TOML, encoding="utf-8")
    (directory / "data" / "stock.csv").write_text(STOCK_CSV, encoding="utf-8")
    (directory / "data" / "companies.csv").write_text(COMPANIES_CSV, encoding="utf-8")
    (directory / "data" / "companies-day2.csv").write_text(COMPANIES_DAY2_CSV, encoding="utf-8")
    return directory / "norce.toml"


def parameterized_copy(name: str, directory: Path, **parameters: Any) -> Path:
    """Copy ``notebooks/<name>`` into ``directory`` with papermill's parameters cell injected."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(NOTEBOOKS / name))  # with the metadata papermill expects
    nb = parameterize_notebook(nb, parameters)
    target = directory / name
    nbformat.write(nb, target)
    return target
