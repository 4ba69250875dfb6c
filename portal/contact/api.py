"""``/api/v1/customers/<id>/consents`` and ``/contacts``: record consent and read or add contact
history over the JSON API (bearer tokens, JSON errors, English messages like the rest of /api/v1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, jsonify
from flask_babel import force_locale
from flask_login import current_user

from .. import audit
from ..api.paging import page_args, page_body
from ..api.support import authenticate_bearer, error, json_body, require
from ..extensions import db
from ..models import Customer
from ..security import get_scoped_or_404, has_permission
from .history import timeline
from .service import ContactError, record_consent, record_contact

api_bp = Blueprint("contact_api", __name__, url_prefix="/api/v1")
api_bp.before_request(authenticate_bearer)

CONSENT_KEYS = ("channel", "purpose", "granted", "method", "note")
CONTACT_KEYS = ("channel", "purpose", "outcome", "note", "ref")


def _customer(customer_id: str, edit: bool) -> Customer:
    require("customer.edit" if edit else "customer.view")
    customer = get_scoped_or_404(Customer, customer_id, current_user, "customer.view")
    if edit and not has_permission(current_user, "customer.edit", customer):
        abort(403, description="You may view but not edit this customer.")
    return customer


def _refused(data: dict[str, Any], allowed: tuple[str, ...]):
    extra = sorted(set(data) - set(allowed))
    if extra:
        return error(422, "validation_failed", f"These fields cannot be set: {', '.join(extra)}. Writable fields: "
                     f"{', '.join(allowed)}. Nothing was saved.", fields={k: "not writable" for k in extra})
    return None


def _shapeless(data: dict[str, Any]):
    """Lists and objects where a value belongs: a clear 422 (the service compares values with its
    sets of codes, and a list there was a 500)."""
    bad = sorted(k for k, v in data.items() if isinstance(v, list | dict))
    if bad:
        return error(422, "validation_failed", f"These fields take a single value, not a list or an object: "
                     f"{', '.join(bad)}. Nothing was saved.", fields={k: "single value expected" for k in bad})
    return None


def _invalid(exc: ContactError):
    db.session.rollback()
    return error(422, "validation_failed", f"{exc} Nothing was saved.", fields=exc.errors)


def _create(customer_id: str, allowed: tuple[str, ...], write: Callable[[Customer, dict[str, Any]], Any],
            shown: Callable[[Any], dict[str, Any]]):
    """The two POSTs' one path: the customer (in scope, editable), only ``allowed`` keys with single
    values, ``write`` with English messages, a 422 with nothing saved on a refused value, else 201
    with the new row (``id``, ``customer_id`` and ``shown(row)``)."""
    customer = _customer(customer_id, edit=True)
    data = json_body()
    refused = _refused(data, allowed) or _shapeless(data)
    if refused is not None:
        return refused
    try:
        with force_locale("en"):  # API messages are English, whatever the token owner reads the portal in
            row = write(customer, data)
    except ContactError as exc:
        return _invalid(exc)
    body = {"id": row.id, "customer_id": customer.id, **shown(row)}
    db.session.commit()
    return jsonify(body), 201


@api_bp.post("/customers/<customer_id>/consents")
def consent_create(customer_id: str):
    """Record a consent given or withdrawn (method defaults to ``api``; source ``api``)."""
    def write(customer: Customer, data: dict[str, Any]) -> Any:
        return record_consent(customer.id, data.get("channel"), data.get("purpose"), data.get("granted"),
                              method=data.get("method", "api"), source="api", actor=current_user,
                              note=data.get("note"))

    def shown(row: Any) -> dict[str, Any]:
        return {"channel": row.channel, "purpose": row.purpose, "granted": row.granted, "method": row.method,
                "kind": row.kind, "source": row.source, "recorded_at": row.recorded_at.isoformat()}

    return _create(customer_id, CONSENT_KEYS, write, shown)


@api_bp.post("/customers/<customer_id>/contacts")
def contact_create(customer_id: str):
    """Log a contact made outside the portal (a call, a mailing); source ``api``."""
    def write(customer: Customer, data: dict[str, Any]) -> Any:
        return record_contact(customer.id, data.get("channel"), purpose=data.get("purpose"), source="api",
                              actor=current_user, outcome=data.get("outcome"), note=data.get("note"),
                              ref=data.get("ref"))

    def shown(row: Any) -> dict[str, Any]:
        return {"channel": row.channel, "purpose": row.purpose, "at": row.at.isoformat(), "source": row.source,
                "outcome": row.outcome, "ref": row.ref}

    return _create(customer_id, CONTACT_KEYS, write, shown)


@api_bp.get("/customers/<customer_id>/contacts")
def contact_history(customer_id: str):
    """The customer's timeline (contacts, consent events, unsent messages), newest first."""
    customer = _customer(customer_id, edit=False)
    page_no, per_page = page_args()
    page = timeline(customer.id, page_no, per_page)
    items = [{"at": i["at"].isoformat() if i["at"] else None, "kind": i["kind"], "channel": i["channel"],
              "purpose": i["purpose"], "what": i["what"], "detail": i["detail"], "note": i["note"],
              "source": i["source"], "granted": i["granted"], "actor": i["actor"]} for i in page.items]
    body = page_body(page, items, "contact_api.contact_history", {"customer_id": customer.id})
    audit.log_access("api_view", customer.id, detail="tab=contacts")
    db.session.commit()
    return jsonify(body)
