"""The outbox pages: messages by status, channel, purpose and source; one message; pause and resume;
postal DM print files. Thin handlers over service.py, dm.py and the scope rules.

Who sees what: ``messages.view`` (Site Administrator, HQ Staff). Messages to customers are
listed only within the reader's customer scope (``scope_filter(user, "customer.view", Customer)``,
all of them for HQ); messages to staff (password resets, notifications) only to holders of the
global permission. Texts are shown only with ``messages.read`` (Site Administrator): a reset
mail carries a live link. Every page that shows customers' addresses writes the access log.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, func, or_, select, true

from .. import audit
from ..extensions import db
from ..models import Customer
from ..pagination import paginate, parse_page_args
from ..security import has_global_permission, has_permission, permission_required, scope_filter
from . import bp
from .models import PURPOSES, STATUSES, Message, MessagePause
from .service import MessagingError, is_paused, pause, resume

VIEW, READ, MANAGE = "messages.view", "messages.read", "messages.manage"
FILTERS = ("status", "channel", "purpose", "source", "source_object")


def visible(user: Any):
    """SQL: the messages ``user`` may see in the outbox."""
    staff_mail = has_global_permission(user, VIEW)
    if staff_mail and has_global_permission(user, "customer.view"):
        return true()
    in_scope = Message.customer_id.in_(select(Customer.id).where(scope_filter(user, "customer.view", Customer)))
    return or_(Message.customer_id.is_(None), in_scope) if staff_mail else and_(Message.customer_id.is_not(None), in_scope)


def _where(user: Any, args: dict[str, str]) -> list[Any]:
    conds = [visible(user)]
    for field in FILTERS:
        value = (args.get(field) or "").strip()
        if value:
            conds.append(getattr(Message, field) == value[:120])
    return conds


def _args() -> dict[str, str]:
    return {k: request.args.get(k, "").strip()[:120] for k in FILTERS if request.args.get(k, "").strip()}


@bp.get("/")
@permission_required(VIEW)
def outbox():
    args = _args()
    if args.get("status") and args["status"] not in STATUSES:
        args.pop("status")
    page_no, per_page = parse_page_args(request.args)
    conds = _where(current_user, args)
    counts_conds = _where(current_user, {k: v for k, v in args.items() if k != "status"})
    counts = dict(db.session.execute(select(Message.status, func.count()).where(*counts_conds)
                                     .group_by(Message.status)).all())
    page = paginate(select(Message).where(*conds).order_by(Message.id.desc()), page_no, per_page)
    channels = sorted(db.session.execute(select(Message.channel).distinct()).scalars())
    sources = sorted(db.session.execute(select(Message.source).distinct()).scalars())
    pauses = db.session.execute(select(MessagePause).order_by(MessagePause.paused_at.desc())).scalars().all()
    html = render_template("messaging/outbox.html", page=page, args=args, counts=counts, statuses=STATUSES,
                           purposes=PURPOSES, channels=channels, sources=sources, pauses=pauses,
                           args_all={k: v for k, v in args.items() if k != "status"},
                           source_paused=bool(args.get("source")) and is_paused(args["source"], args.get("source_object")),
                           can_manage=has_global_permission(current_user, MANAGE))
    shown = sum(1 for m in page.items if m.customer_id is not None)
    if shown:
        audit.log_access("list", count=shown, detail=f"messaging.outbox page={page_no}")
    db.session.commit()
    return html, 200, {"Cache-Control": "no-store"}


@bp.get("/<int:message_id>")
@permission_required(VIEW)
def detail(message_id: int):
    m = db.session.execute(select(Message).where(Message.id == message_id, visible(current_user))).scalar_one_or_none()
    if m is None:
        abort(404)
    can_read = has_permission(current_user, READ)
    if m.customer_id is not None:
        audit.log_access("view", m.customer_id, detail=f"message {m.id}" + (" text" if can_read else ""))
    html = render_template("messaging/detail.html", m=m, can_read=can_read,
                           paused=is_paused(m.source, m.source_object), can_manage=has_global_permission(current_user, MANAGE))
    db.session.commit()
    return html, 200, {"Cache-Control": "no-store"}


def _source_form() -> tuple[str, str | None]:
    source = (request.form.get("source") or "").strip()
    obj = (request.form.get("source_object") or "").strip() or None
    if not source or len(source) > 60 or (obj and len(obj) > 120):
        abort(400)
    return source, obj


def _back(source: str, obj: str | None):
    target = request.form.get("next") or ""
    # Back to an outbox page only: no other site, no backslash, no control character (a CR/LF
    # would be a header injection, and werkzeug refuses it with a 500).
    if (target.startswith("/manage/messages") and "//" not in target and "\\" not in target and len(target) <= 2000
            and target.isprintable() and " " not in target):
        return redirect(target)
    return redirect(url_for("messaging.outbox", source=source, **({"source_object": obj} if obj else {})))


def _manage_everywhere() -> None:
    """Pausing a source stops its messages to every branch's customers, so it takes the
    permission everywhere, not a local grant on one region."""
    if not has_global_permission(current_user, MANAGE):
        abort(403)


@bp.post("/pause")
@permission_required(MANAGE)
def pause_source():
    _manage_everywhere()
    source, obj = _source_form()
    if pause(source, obj, actor=current_user):
        audit.record("messages.paused", None, summary=f"{source} {obj or ''}".strip())
        flash(_("Sending paused for %(source)s.", source=f"{source} {obj or ''}".strip()), "success")
    db.session.commit()
    return _back(source, obj)


@bp.post("/resume")
@permission_required(MANAGE)
def resume_source():
    _manage_everywhere()
    source, obj = _source_form()
    if resume(source, obj):
        audit.record("messages.resumed", None, summary=f"{source} {obj or ''}".strip())
        flash(_("Sending resumed for %(source)s.", source=f"{source} {obj or ''}".strip()), "success")
    db.session.commit()
    return _back(source, obj)


# -- postal DM print files ----------------------------------------------------------------------

@bp.get("/dm")
@permission_required("customer.export")
def dm_files():
    from .dm import due_count, print_files

    html = render_template("messaging/dm.html", due=due_count(current_user), files=print_files(current_user),
                           today=date.today().isoformat())
    db.session.commit()
    return html, 200, {"Cache-Control": "no-store"}


@bp.post("/dm/print-file")
@permission_required("customer.export")
def dm_print_file():
    from ..exports import ExportTooLarge, logged_export
    from .dm import HEADER, take_print_file

    fmt = "xlsx" if request.form.get("format") == "xlsx" else "csv"
    token, rows = take_print_file(current_user)
    if not rows:
        db.session.commit()
        flash(_("No postal mail is due."), "info")
        return redirect(url_for("messaging.dm_files"))
    try:
        return logged_export(fmt, f"dm-{token}.{fmt}", HEADER, lambda: rows, _("Postal mail"), len(rows),
                             detail=f"messaging.dm print file {token}")
    except ExportTooLarge as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("messaging.dm_files"))


@bp.post("/dm/<token>/download")
@permission_required("customer.export")
def dm_download(token: str):
    from ..exports import logged_export
    from .dm import HEADER, print_file_rows

    rows = print_file_rows(current_user, token)
    if not rows:
        abort(404)
    fmt = "xlsx" if request.form.get("format") == "xlsx" else "csv"
    return logged_export(fmt, f"dm-{token}.{fmt}", HEADER, lambda: rows, _("Postal mail"), len(rows),
                         detail=f"messaging.dm print file {token}")


@bp.post("/dm/<token>/mailed")
@permission_required("customer.export")
def dm_mailed(token: str):
    from .dm import mark_mailed

    try:
        mailed_on = date.fromisoformat((request.form.get("mailed_on") or "").strip())
        count = mark_mailed(current_user, token, mailed_on)
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc) if isinstance(exc, MessagingError) else _("Give the date the letters were mailed."), "error")
        return redirect(url_for("messaging.dm_files"))
    db.session.commit()
    flash(_("%(n)s letters recorded as mailed.", n=count), "success")
    return redirect(url_for("messaging.dm_files"))
