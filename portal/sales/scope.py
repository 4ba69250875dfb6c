"""The sales scope rule: which sales a user sees, whose identity they see, what an import may write.

One rule for sales everywhere — the sale-line page, its exports, the API and the dashboard
portlets all filter with :func:`sales_scope`:

* a **sale** is visible where it happened (the selling branch and the units above it) and to
  the distributor line the customer belonged to when it was sold (``sale_line.partner_id``);
  global grants see every sale. The branch that owns the customer does not see a sale made
  at another branch (the customer's own page still shows their whole history);
* the **identity** of the sale's customer (number, name, id) is shown only when that customer
  is in the viewer's ``customer.view`` scope (:func:`customer_identity`); otherwise the line
  shows no customer at all;
* an **import** links a sale to any customer (HQ's single customer view), but writes contact
  data only onto customers in the uploader's ``customer.edit`` scope (:func:`writable_customers`)
  and never onto an erased one; see ``docs/sales-import.md``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, inspect, true
from sqlalchemy.sql.util import ClauseAdapter

from ..models import Customer, SaleLine
from ..security import scope_filter

SALES_PERMISSION = "sales.view"
IDENTITY_PERMISSION = "customer.view"
WRITE_PERMISSION = "customer.edit"


def sales_scope(user: Any, permission: str = SALES_PERMISSION) -> ColumnElement[bool]:
    """SQL condition on ``sale_line``: the sales ``user`` may see (or export, with ``sales.export``).

    Only columns of ``sale_line`` itself (``branch_id``, ``partner_id``), so a figure needs no
    join to ``customer`` and the ``(branch_id, sold_at)`` / ``(partner_id, sold_at)`` indexes
    serve it.
    """
    return scope_filter(user, permission, SaleLine)


def customer_identity(user: Any, customer: Any = Customer) -> ColumnElement[bool]:
    """SQL condition on ``customer`` (or an alias of it): the viewer may see who this customer is.

    ``user=None`` (no viewer, e.g. a service call without one) sees nobody's identity.
    """
    if user is None:
        return false()
    cond = scope_filter(user, IDENTITY_PERMISSION, Customer)
    if customer is Customer:
        return cond
    return ClauseAdapter(inspect(customer).selectable).traverse(cond)


def writable_customers(user: Any) -> ColumnElement[bool]:
    """SQL condition on ``customer``: an import by ``user`` may fill these customers' contact data.

    ``user=None`` is the operator's command line: every customer. Erased customers are excluded
    by the importer separately (nothing re-identifies them, whoever imports).
    """
    if user is None:
        return true()
    return scope_filter(user, WRITE_PERMISSION, Customer)
