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
