"""Notifications: in-app inbox, e-mail by preference, daily digest, de-duplication.

Public API (also in ``portal.toolkit``): :func:`notify`, :func:`role_in_scope`; see
docs/platform/notify.md. The inbox pages live under ``/inbox``, the API under
``/api/v1/notifications``.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("notify", __name__, url_prefix="/inbox", template_folder="templates")
api_bp = Blueprint("notify_api", __name__, url_prefix="/api/v1/notifications")

from . import api, views  # noqa: E402,F401
from .service import (  # noqa: E402
    NotifyError,
    RoleInScope,
    kinds,
    mark_all_read,
    mark_read,
    notify,
    prune_read,
    resolve_recipients,
    role_in_scope,
    send_daily_digest,
    unread_count,
)

__all__ = ["NotifyError", "RoleInScope", "bp", "api_bp", "init_app", "kinds", "mark_all_read", "mark_read", "notify",
           "prune_read", "resolve_recipients", "role_in_scope", "send_daily_digest", "unread_count"]


def init_app(app: Flask) -> None:
    """The JSON API (bearer tokens, so no CSRF) and the header badge's template global."""
    from ..extensions import csrf
    from .service import kind_label, unread_badge

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
    app.jinja_env.globals["notify_unread"] = unread_badge
    app.jinja_env.globals["notify_kind_label"] = kind_label
