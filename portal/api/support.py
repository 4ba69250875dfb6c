"""The JSON API's request rules, public for plugins that add endpoints under ``/api/v1``.

Bearer tokens only (a browser's session cookie is ignored, so there is no CSRF exposure), JSON
error bodies, and request bodies that never turn bad input into a 500.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, jsonify, request
from flask_login import current_user

from ..auth.tokens import user_for_token
from ..extensions import login_manager
from ..security import has_permission


def error(status: int, code: str, message: str, **extra: Any):
    """``{"error": code, "message": message, ...}`` with ``status``."""
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else {}
    return jsonify({"error": code, "message": message, **extra}), status, headers


def authenticate_bearer():
    """``before_request`` for an API blueprint: the bearer token's user, or a 401 answer."""
    header = request.headers.get("Authorization", "")
    user = user_for_token(header[7:].strip()) if header.lower().startswith("bearer ") else None
    if user is None:
        return error(401, "unauthorized", "A valid bearer token is required (Authorization: Bearer <token>).")
    login_manager._update_request_context_with_user(user)
    g.api_user = user
    return None


def require(permission: str) -> None:
    """403 unless the caller holds ``permission`` (globally or through a local role)."""
    if not has_permission(current_user, permission):
        abort(403, description=f"Your roles do not grant {permission}.")


def json_payload() -> Any:
    """The parsed JSON body, or ``None`` when it is missing or not JSON; 400 when it is nested too
    deeply for the parser (``json.loads`` raises RecursionError, which would otherwise be a 500)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        abort(400, description="The JSON is nested too deeply.")


def json_body() -> dict[str, Any]:
    """The JSON object sent; 400 for anything else."""
    data = json_payload()
    if not isinstance(data, dict):
        abort(400, description="Send a JSON object with Content-Type: application/json.")
    return data


# -- the add-ons' refusals: one shape for every 403/404/409/422 (prm_groups, knowledge_share, …) -----------

REFUSAL_CODES = {403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_failed"}
REFUSAL_MESSAGES = {403: "You may not do this.", 404: "Not found.",
                    409: "This cannot be done in the current state; nothing was changed.",
                    422: "Some fields are not valid; nothing was written."}


def http_error(exc: Any) -> Any:
    """``require``'s 403, a 400 for bad JSON, a 404 …: the same shape as every other refusal
    (``bp.register_error_handler(HTTPException, http_error)``), the session rolled back."""
    from ..extensions import db

    db.session.rollback()
    return error(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "",
                 errors={}, fields={})


def refused(exc: Any, *, not_found: str = REFUSAL_MESSAGES[404], message: str | None = None, **extra: Any) -> Any:
    """A service's refusal (an exception with ``errors`` by field path and ``status``) as
    ``{"error", "message", "errors", "fields"}``. A 403 or 409 with one reason says that reason;
    otherwise the status's general message (or ``message``). The session is rolled back: nothing
    was written."""
    from ..extensions import db

    db.session.rollback()
    status = exc.status if getattr(exc, "status", None) in REFUSAL_CODES else 422
    errors = {k: str(v) for k, v in (getattr(exc, "errors", None) or {}).items()}
    if message is None:
        message = not_found if status == 404 else REFUSAL_MESSAGES[status]
        if status in (403, 409) and len(errors) == 1:
            message = next(iter(errors.values()))
    return error(status, REFUSAL_CODES[status], message, errors=errors, fields=errors, **extra)


def english(view: Any) -> Any:
    """The API's messages and field errors are English, like the core API's."""
    from functools import wraps

    from flask_babel import force_locale

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with force_locale("en"):
            return view(*args, **kwargs)

    return wrapper


UNSTORABLE = "Remove the characters that cannot be stored (a NUL or a lone surrogate)."
MAX_UNSTORABLE_PATHS = 20


def storable(text: str) -> bool:
    """Can a database store ``text``? Not with a NUL (PostgreSQL refuses it) or a lone surrogate
    (no UTF-8 for it). For one form field; ``json_object`` checks a whole JSON body."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_paths(value: Any, path: str = "") -> list[str]:
    """Field paths (``a.b``, ``a[0]``) of strings in ``value`` — values or keys — that no database
    stores: a NUL (PostgreSQL text refuses it) or a lone surrogate (JSON ``"\\ud800"``, not UTF-8).
    Iterative, so a deeply nested body is no recursion bomb; at most 20 paths."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack and len(found) < MAX_UNSTORABLE_PATHS:
        where, item = stack.pop()
        if isinstance(item, str):
            if not storable(item):
                found.append(where)
        elif isinstance(item, dict):
            for key, sub in item.items():
                ok = storable(str(key))
                sub_path = f"{where}.{key}" if ok and where else str(key) if ok else f"{where}.{key!r}"[:60]
                if not ok:
                    found.append(sub_path)
                stack.append((sub_path, sub))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", sub) for i, sub in enumerate(item))
    return found


def json_object(refusal: Any, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body when ``empty_ok``); otherwise raises
    ``refusal({"": message}, 422)`` (the add-on's own error class). A string no database stores
    (see :func:`unstorable_paths`) is refused here, at its field path, before any service reads it
    — otherwise it reaches a flush or a lookup and answers a 500."""
    data = json_payload()
    if empty_ok and data is None and not request.get_data(cache=True):
        return {}
    if not isinstance(data, dict):
        raise refusal({"": "Send a JSON object with Content-Type: application/json."}, 422)
    bad = unstorable_paths(data)
    if bad:
        raise refusal({p: UNSTORABLE for p in sorted(bad)}, 422)
    return data
