"""JSON API under ``/api/v1/loyalty`` (docs/loyalty.md): bearer tokens only, like the core API.

Writes carry an ``idempotency_key``. The operation runs first; its answer is then stored under
the key — a row unique per (customer, key) — in the same transaction. Concurrent requests with
one key queue on the account's row lock and then on that unique index: exactly one commits, the
others find the key taken, roll back everything they did, re-read the stored answer and replay
it (200). A key reused with a different body is refused (422). Refusals (409, 422) are not
stored: a retry with the same key may succeed later. (Storing the answer last, instead of
claiming the key first and filling the answer in, is one statement fewer on the hot path.)
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, jsonify
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only

from portal.toolkit import (
    Customer,
    audit,
    authenticate_bearer,
    db,
    error,
    get_scoped_or_404,
    has_global_permission,
    has_permission,
    id_or_404,
    json_payload,
    not_found_message,
    require,
    utcnow,
)

from . import ledger, redemption
from .ledger import MAX_POINTS, Actor, InsufficientPoints, LedgerError, insert_ignore, is_postgres
from .models import LoyRequest
from .summary import customer_summary, entry_dict

bp = Blueprint("loyalty_api", __name__, url_prefix="/api/v1/loyalty")

FIELDS = ("points", "reason", "idempotency_key")
KEY_RE = re.compile(r"[A-Za-z0-9._:\-]{1,100}")
OPERATIONS = {"earn": "loyalty.earn", "redeem": "loyalty.redeem"}


bp.before_request(authenticate_bearer)  # the core API's rule: a bearer token, never the session cookie


@bp.get("/accounts/<customer_id>")
def account(customer_id: str):
    require("loyalty.view")
    customer = get_scoped_or_404(Customer, customer_id, current_user, "loyalty.view")
    body = customer_summary(customer)
    audit.log_access("api_view", customer.id, detail="loyalty account")
    db.session.commit()
    return jsonify(body)


@bp.post("/accounts/<customer_id>/earn")
def earn(customer_id: str):
    return _write(customer_id, "earn")


@bp.post("/accounts/<customer_id>/redeem")
def redeem(customer_id: str):
    if is_postgres():
        return _redeem_pg(customer_id)
    return _write(customer_id, "redeem")


def validate(data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The three writable fields, checked; unknown fields are refused, never ignored."""
    if not isinstance(data, dict):
        return {}, {"": "Send a JSON object with Content-Type: application/json."}
    errors: dict[str, str] = {}
    for name in sorted(set(data) - set(FIELDS)):
        errors[name] = f"Unknown field; the writable fields are {', '.join(FIELDS)}."
    points = data.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        errors["points"] = f"A whole number of points between 1 and {MAX_POINTS:,}."
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 200:
        errors["reason"] = "A reason of 1 to 200 characters."
    elif ledger.unstorable(reason):  # (the database would refuse it mid-statement: a 500, not an answer)
        errors["reason"] = ledger.UNSTORABLE_REASON
    key = data.get("idempotency_key")
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        errors["idempotency_key"] = "1 to 100 characters: letters, digits, '.', '_', ':' or '-'."
    return {k: data.get(k) for k in FIELDS}, errors


def request_hash(operation: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"op": operation, "points": fields["points"], "reason": fields["reason"]},
                           sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(customer_id: int, key: str, digest: str):
    stored = db.session.execute(select(LoyRequest).where(LoyRequest.customer_id == customer_id,
                                                          LoyRequest.key == key)).scalar_one_or_none()
    if stored is None:
        return None
    if stored.request_hash != digest:
        return error(422, "idempotency_key_reused",
                     "This idempotency_key was already used with a different request; nothing was written.")
    resp = jsonify(json.loads(stored.response))
    resp.headers["Idempotent-Replayed"] = "true"
    return resp, 202 if stored.status_code == 202 else 200  # a queued credit is still waiting


def _write(customer_id: str, operation: str):
    permission = OPERATIONS[operation]
    require(permission)
    # Only the columns the scope check needs: the ledger works on the id.
    customer = get_scoped_or_404(Customer, customer_id, current_user, "loyalty.view",
                                 load_only(Customer.id, Customer.branch_id, Customer.partner_id))
    if not has_permission(current_user, permission, customer):
        abort(403, description=f"Your roles do not grant {permission} for this customer.")
    fields, errors = validate(json_payload())
    if errors:
        return error(422, "validation_failed", "Some fields are not valid; nothing was written.", fields=errors)
    digest = request_hash(operation, fields)
    key = fields["idempotency_key"]
    customer_id_int = customer.id
    try:
        if operation == "earn":  # a credit by hand: above the approval limit it waits (redemption)
            state, result = redemption.request_earn(customer, fields["points"], fields["reason"], current_user)
        else:  # a refusal rolls back the whole transaction below: no savepoint needed
            state = "done"
            result = ledger.redeem(customer, fields["points"], fields["reason"], actor=current_user, savepoint=False)
    except LedgerError as exc:
        db.session.rollback()  # the key may have been used already: its first answer wins
        return _replay(customer_id_int, key, digest) or error(exc.status, exc.code, exc.message)
    if state == "pending":
        status, entry_id = 202, None
        body = {"status": "pending_approval", "approval_id": result.id, "customer_id": customer_id_int,
                "points": int(result.points),
                "message": "Above the approval limit: the credit waits for a second staff member."}
    else:
        status, entry_id = 201, result.entry.id
        body = {"entry": entry_dict(result.entry, result.balance), "balance": int(result.balance),
                "customer_id": customer_id_int, "account_id": result.account_id}
    stored = db.session.connection().execute(insert_ignore(LoyRequest.__table__, ["customer_id", "key"]).values(
        customer_id=customer_id_int, key=key, operation=operation, request_hash=digest, status_code=status,
        response=json.dumps(body, ensure_ascii=False), entry_id=entry_id, created_at=utcnow(),
    ).returning(LoyRequest.__table__.c.id)).scalar_one_or_none()
    if stored is None:  # a request with this key committed first: undo this one, answer as it did
        db.session.rollback()
        return _replay(customer_id_int, key, digest) or error(409, "conflict", "Try again.")
    try:
        db.session.commit()
    except IntegrityError:  # cannot happen after the insert above; refuse rather than guess
        db.session.rollback()
        return _replay(customer_id_int, key, digest) or error(409, "conflict", "Try again.")
    resp = jsonify(body)
    resp.status_code = status
    return resp


# -- PostgreSQL: the redemption in one round trip ------------------------------------------------

_CUSTOMER = "SELECT branch_id, partner_id FROM customer WHERE id = %s"
_ARGS = "%s::bigint, %s::text, %s::date, %s::integer, %s::text, %s::timestamp, %s::text, %s::text"
_REDEEM = f"SELECT status, body FROM loy_api_redeem(%s::integer, {_ARGS})"  # noqa: S608 - constants only
# For a caller granted both permissions everywhere: the call joined to the customer row, so a
# customer that does not exist is still a 404 (no row), in one statement.
_REDEEM_ANY = (f"SELECT r.status, r.body FROM customer c CROSS JOIN LATERAL loy_api_redeem(c.id, {_ARGS}) r "  # noqa: S608
               "WHERE c.id = %s::integer")
_REFUSED = {"balance": ledger.NO_BALANCE, "lots": ledger.NO_VALID_LOTS}  # loy_api_redeem's 409 reasons


def _redeem_pg(customer_id: str):
    """The same answers as ``_write`` (status codes, bodies, idempotency), with the writes in the
    database function ``loy_api_redeem`` (migration loy_0002), sent straight to the driver on the
    request's own connection and transaction. The scope check reads the customer's branch and
    partner and ``has_permission`` (the one permission check) decides — unless the caller's roles
    grant ``loyalty.view`` and ``loyalty.redeem`` everywhere, where ``has_permission`` is true for
    every customer and only existence is left to check: the call then runs joined to the customer
    row (one statement instead of two)."""
    require("loyalty.redeem")
    user = current_user._get_current_object()  # (one proxy lookup instead of one per attribute read)
    ident = id_or_404(Customer, customer_id)
    raw = db.session.connection().connection.driver_connection
    everywhere = has_global_permission(user, "loyalty.view") and has_global_permission(user, "loyalty.redeem")
    fields, errors = validate(json_payload())
    if not everywhere or errors:  # (the 404 comes before the 422, as in _write)
        row = raw.execute(_CUSTOMER, (ident,)).fetchone()
        # A customer with only the columns the scope check reads, never added to the session.
        customer = Customer(id=ident, branch_id=row[0], partner_id=row[1]) if row is not None else None
        if customer is None or not has_permission(user, "loyalty.view", customer):
            abort(404, description=not_found_message(Customer))
        if not has_permission(user, "loyalty.redeem", customer):
            abort(403, description="Your roles do not grant loyalty.redeem for this customer.")
    if errors:
        return error(422, "validation_failed", "Some fields are not valid; nothing was written.", fields=errors)
    digest = request_hash("redeem", fields)
    key = fields["idempotency_key"]
    reason = ledger.clean_reason(fields["reason"])
    actor = Actor.of(user)
    args = (fields["points"], reason, date.today(), actor.id, actor.label, utcnow(), key, digest)
    if everywhere:
        answer = raw.execute(_REDEEM_ANY, (*args, ident)).fetchone()
        if answer is None:
            abort(404, description=not_found_message(Customer))
    else:
        answer = raw.execute(_REDEEM, (ident, *args)).fetchone()
    status, body = answer
    if status == 201:
        db.session.commit()
        return Response(body, status=201, mimetype="application/json")
    db.session.rollback()  # whatever the function did is undone; the key may hold the first answer
    if status == 409 and body in _REFUSED:
        return _replay(ident, key, digest) or error(409, InsufficientPoints.code, _REFUSED[body])
    return _replay(ident, key, digest) or error(409, "conflict", "Try again.")
