"""Demo data only: a branch's daily report (판매일보) re-filed with extra purchases.

Add-on demos show a measured effect — customers who bought because of a campaign or a programme.
The purchases enter as real branch staff would enter them: the branch's report of that day, as
filed, plus the new lines, imported again (``replace``) through the core sales importer, so every
measurement reads them from ``sale_line`` like any other sale. Never call it outside a demo seed."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Customer, OrgUnit, Product, SaleLine

HEADER = ["report_date", "branch_code", "receipt_no", "customer_code", "product_sku", "quantity", "unit_price",
          "amount"]


def report_with_extra_lines(branch: str, day: date, customer_codes: list[str], product: Product) -> bytes:
    """The CSV of ``branch``'s report of ``day``: its lines as filed, plus one line of ``product``
    for each of ``customer_codes`` (receipts ``S<yymmdd>-0001`` …)."""
    rows = db.session.execute(
        select(SaleLine.receipt_no, Customer.code, Product.sku, SaleLine.quantity, SaleLine.unit_price, SaleLine.amount)
        .join(Customer, Customer.id == SaleLine.customer_id).join(Product, Product.id == SaleLine.product_id)
        .join(OrgUnit, OrgUnit.id == SaleLine.branch_id)
        .where(OrgUnit.code == branch, SaleLine.sold_at == day).order_by(SaleLine.id)).all()
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADER)
    for receipt, code, sku, qty, price, amount in rows:
        w.writerow([day.isoformat(), branch, receipt or "", code, sku, qty, price, amount])
    for i, code in enumerate(customer_codes, 1):
        w.writerow([day.isoformat(), branch, f"S{day:%y%m%d}-{i:04d}", code, product.sku, 1, product.unit_price,
                    product.unit_price])
    return out.getvalue().encode("utf-8")


def demo_refile_report(branch: str, day: date, customer_codes: list[str], product: Product, staff: Any) -> Any:
    """Re-file ``branch``'s report of ``day`` with one purchase of ``product`` per customer code, as
    ``staff``, through the core importer (``replace``); returns the importer's result (``status``
    ``"committed"`` on success). Commits, as the importer does."""
    from ..sales.importer import import_report

    data = report_with_extra_lines(branch, day, customer_codes, product)
    return import_report(data, f"판매일보_{branch}_{day:%Y%m%d}_정정.csv", staff, replace=True)
