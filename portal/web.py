"""Request plumbing: request ids, plugin route gating, security headers, error pages (every
unhandled exception logged with its request id), template globals."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, abort, current_app, g, jsonify, render_template, request
from flask_babel import format_datetime, get_locale
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from .plugins import active_plugin_names, collect, registry, report_skipped
from .security import has_permission

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept when it is safe to log and to echo: 8-128 letters, digits, ``. _ : -``.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def request_id() -> str:
    """This request's id: the incoming ``X-Request-ID`` when sane, else a new random one.

    It is in every log line about the request, in the ``X-Request-ID`` response header, on the
    error page and in JSON error bodies — so a user's "reference" finds the traceback.
    """
    rid = g.get("request_id")
    if rid is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = g.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    return rid


class RequestIdFilter(logging.Filter):
    """Give every record logged during a request its ``request_id`` (and name it in the message
    of a logged exception that does not say it yet, e.g. Flask's own "Exception on …")."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        if has_request_context():
            rid = request_id()
            record.request_id = rid
            if record.exc_info and rid not in record.getMessage():
                record.msg = f"{record.msg} [request {rid}]"
        else:
            record.request_id = "-"
        return True


def _gate_plugin_routes() -> None:
    """A disabled or uninstalled plugin's routes answer 404 (checked per request, no restart)."""
    bp = request.blueprint
    if not bp:
        return
    owner = registry().blueprint_owner.get(bp.split(".")[0])
    if owner and owner not in active_plugin_names():
        abort(404)


def _security_headers(response):
    headers = response.headers
    headers[REQUEST_ID_HEADER] = request_id()
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if not request.path.startswith("/static/"):
        # Pages and API answers may carry personal data: never cache them.
        headers["Cache-Control"] = "no-store"
        headers.setdefault("Pragma", "no-cache")
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error(exc: HTTPException):
    code = exc.code or 500
    if code >= 500 and getattr(exc, "original_exception", None) is None:
        # An explicit abort(5xx); an exception turned into a 500 by Flask was logged already.
        current_app.logger.error("HTTP %s on %s %s [request %s]: %s", code, request.method, request.path,
                                 request_id(), exc.description)
    # Keep the exception's own headers (Allow on 405, WWW-Authenticate, Retry-After ...).
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    if _wants_json():
        return jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description,
                        "request_id": request_id()}), code, headers
    return render_template("error.html", code=code, error=exc), code, headers


def _refuse_nul_bytes() -> None:
    """A NUL byte is never valid text here, and PostgreSQL refuses it mid-query: answer 400."""
    fields = list(request.args.items(multi=True))
    if request.method not in ("GET", "HEAD") and request.mimetype in ("application/x-www-form-urlencoded",
                                                                        "multipart/form-data"):
        fields += list(request.form.items(multi=True))
    for name, value in fields:
        if "\x00" in name or "\x00" in value:
            abort(400, description=f"The parameter {name.replace(chr(0), '')!r} contains a NUL character.")


def _server_error(exc: Exception):
    """An unhandled exception: logged with its traceback and request id, the request's
    transaction rolled back (nothing of it is saved), a 500 page that shows the id."""
    rid = request_id()
    current_app.logger.error("Unhandled exception on %s %s [request %s]", request.method, request.path, rid,
                             exc_info=exc)
    _rollback()
    if _wants_json():
        return jsonify({"error": "internal_error", "message": "Something went wrong; nothing was saved.",
                        "request_id": rid}), 500
    try:
        return render_template("error.html", code=500, error=None), 500
    except Exception:  # the page needs the database (menu, user) — it may be what failed
        current_app.logger.exception("The error page failed too [request %s]", rid)
        return Response(FALLBACK_500.format(rid=escape(rid)), 500, mimetype="text/html")


# Korean, the portal's default language: shown only when the error page itself cannot render.
FALLBACK_500 = ('<!doctype html><html lang="ko"><meta charset="utf-8"><title>500</title>'
                "<h1>500</h1><p>시스템 오류가 발생하여 저장되지 않았습니다. 다시 시도해 주세요.</p>"
                '<p data-testid="request-id">문의하실 때 알려 주실 번호: {rid}</p></html>')


def _rollback() -> None:
    from .extensions import db

    try:
        db.session.rollback()
    except Exception:  # a dead connection: the pool replaces it; nothing was committed
        current_app.logger.exception("Rollback failed [request %s]", request_id())


def menu_items() -> list[dict[str, Any]]:
    if not current_user.is_authenticated:
        return []
    items = collect("portal_menu_items", user=current_user)
    items = [i for i in items if not i.get("permission") or has_permission(current_user, i["permission"])]
    current = current_menu_item(items, request.endpoint or "")
    return [{**i, "active": i is current} for i in items]


def current_menu_item(items: list[dict[str, Any]], endpoint: str) -> dict[str, Any] | None:
    """The one menu entry to highlight: the exact endpoint, else an entry whose ``match``
    prefixes name this page, else the only entry of the page's blueprint (never two)."""
    for item in items:
        if item["endpoint"] == endpoint:
            return item
    for item in items:
        if any(endpoint.startswith(prefix) for prefix in item.get("match", ())):
            return item
    same_blueprint = [i for i in items if i["endpoint"].split(".")[0] == endpoint.split(".")[0]]
    return same_blueprint[0] if len(same_blueprint) == 1 else None


def portlets(manager: str) -> list[dict[str, Any]]:
    items = collect("portal_portlets", manager=manager, user=current_user)
    return [p for p in items if not p.get("permission") or has_permission(current_user, p["permission"])]


def render_portlet(portlet: dict[str, Any]) -> Markup:
    """A portlet's HTML (its template with ``ctx``). One that fails to render is left out and
    logged once with its add-on's name: one broken portlet must not take the dashboard down."""
    try:
        return Markup(render_template(portlet["template"], ctx=portlet.get("context") or {}))
    except Exception as exc:  # noqa: BLE001
        report_skipped(portlet.get("plugin", "?"), "portal_portlets",
                       f"rendering {portlet['template']!r} raised {type(exc).__name__}: {exc}", exc=exc)
        return Markup("")


def init_web(app: Flask) -> None:
    hops = int(app.config.get("PORTAL_PROXY_HOPS") or 0)
    if hops:
        # Behind nginx & co.: trust X-Forwarded-For/-Proto from that many proxies, so HSTS and
        # per-IP login throttling see the client's scheme and address, not the proxy's.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.before_request(_refuse_nul_bytes)
    app.before_request(_gate_plugin_routes)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error)
    propagate = app.config.get("PROPAGATE_EXCEPTIONS")
    if propagate is None:  # Flask's default: the debugger / pytest get the exception
        propagate = app.debug or app.testing
    if not propagate:
        app.register_error_handler(Exception, _server_error)
    if not any(isinstance(f, RequestIdFilter) for f in app.logger.filters):
        app.logger.addFilter(RequestIdFilter())

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "menu_items": menu_items,
            "portlets": portlets,
            "render_portlet": render_portlet,
            "can": lambda perm, obj=None: has_permission(current_user, perm, obj),
            "current_locale": str(get_locale()),
            "request_id": request_id,
            "active_endpoint": request.endpoint or "",
        }

    @app.template_filter("krw")
    def _krw(value: Any) -> str:
        return f"₩{int(value or 0):,}"

    @app.template_filter("localtime")
    def _localtime(value: Any, precision: str = "minutes") -> str:
        """Stored times are naive UTC; show them in PORTAL_TIMEZONE (Asia/Seoul by default)."""
        if value is None:
            return ""
        pattern = {"date": "yyyy-MM-dd", "seconds": "yyyy-MM-dd HH:mm:ss"}.get(precision, "yyyy-MM-dd HH:mm")
        return format_datetime(value, pattern)

    @app.template_filter("label")
    def _label(value: Any, kind: str) -> str:
        from .customers.labels import label

        return label(kind, value)

    @app.template_filter("audit_summary")
    def _audit_summary(value: Any, action: str) -> str:
        from .customers.labels import audit_summary

        return audit_summary(action, value)

    @app.template_filter("audit_value")
    def _audit_value(value: Any, field: str | None = None) -> str:
        from .customers.labels import audit_value

        return audit_value(value, field)

    @app.template_filter("phone")
    def _phone(value: Any) -> str:
        from .customers.normalize import format_phone

        return format_phone(value)

    @app.template_filter("num")
    def _num(value: Any) -> str:
        return f"{int(value or 0):,}"

    @app.teardown_request
    def _clear(_exc: BaseException | None) -> None:
        g.pop("portal_active_plugins", None)
        g.pop("portal_security_epoch", None)
