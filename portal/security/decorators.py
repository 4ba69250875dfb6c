"""View decorators: login plus permission, answering 403 (or 404 where existence would leak)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required

from .permissions import has_permission


def permission_required(permission: str) -> Callable:
    """Logged in, and granted ``permission`` globally or by some local role."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not has_permission(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
