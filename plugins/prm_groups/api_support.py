"""What every ``/api/v1/prm`` blueprint shares: English messages (like the core API's), one error
shape for every refusal (``{"error", "message", "errors", "fields"}``, the session rolled back), and
the JSON-object body check."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask_babel import force_locale
from werkzeug.exceptions import HTTPException

from portal.toolkit import db, error, json_payload

CODES = {403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_failed"}
MESSAGES = {403: "You may not do this.", 404: "Not found.",
            409: "This cannot be done in the current state; nothing was changed.",
            422: "Some fields are not valid; nothing was written."}


def http_error(exc: HTTPException) -> Any:
    """``require``'s 403, a 400 for bad JSON, a 404 …: the same shape as every other refusal
    (register with ``bp.register_error_handler(HTTPException, http_error)``)."""
    db.session.rollback()
    return error(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "",
                 errors={}, fields={})


def refused(exc: Any, *, not_found: str = MESSAGES[404], message: str | None = None, **extra: Any) -> Any:
    """A refused request (``ProgrammeError`` and its kin: ``errors`` by field path, ``status``) as
    JSON. A 403 or 409 with one reason says that reason ("content not approved"); otherwise the
    status's general message (or ``message``, e.g. a check-in refusal's own words). The caller's transaction is rolled back: nothing was written."""
    db.session.rollback()
    status = exc.status if getattr(exc, "status", None) in CODES else 422
    errors = {k: str(v) for k, v in (getattr(exc, "errors", None) or {}).items()}
    if message is None:
        message = not_found if status == 404 else MESSAGES[status]
        if status in (403, 409) and len(errors) == 1:
            message = next(iter(errors.values()))
    return error(status, CODES[status], message, errors=errors, fields=errors, **extra)


def english(view: Callable[..., Any]) -> Callable[..., Any]:
    """The API's messages and field errors are English, like the core API's."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with force_locale("en"):
            return view(*args, **kwargs)

    return wrapper


def json_object(*, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body when ``empty_ok``); a ``ProgrammeError``
    422 for anything else."""
    from .programmes import ProgrammeError

    data = json_payload()
    if empty_ok and data is None and not request.get_data(cache=True):
        return {}
    if not isinstance(data, dict):
        raise ProgrammeError({"": "Send a JSON object with Content-Type: application/json."}, 422)
    return data
