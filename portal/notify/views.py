"""The inbox pages: list (all / unread), one notification, open, mark read, preferences.

Every page shows only the signed-in user's own notifications: another user's id answers 404,
exactly like a missing one. State changes are POST with a CSRF token (opening an item marks it
read and then follows its link, so the link itself stays a plain GET of the object's page, which
checks the reader's scope).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..bounds import one_of
from ..extensions import db
from ..pagination import paginate, parse_page_args
from ..security import id_or_404, not_found_message
from . import bp
from .models import CHANNELS, Notification
from .service import (
    CHANNEL_LABELS,
    NotifyError,
    _check_url,
    get_own,
    inbox_query,
    mark_all_read,
    mark_read,
    preferences,
    set_preferences,
    unread_count,
)

SHOW = ("all", "unread")


def _own_or_404(notification_id: str) -> Notification:
    item = get_own(current_user.id, id_or_404(Notification, notification_id))
    if item is None:
        abort(404, description=not_found_message(Notification))
    return item


def _list_args(source: Any) -> dict[str, Any]:
    """``show`` / ``page`` to return to after a POST (junk falls back to the defaults)."""
    show = one_of(source.get("show"), SHOW, "all")
    page, _per_page = parse_page_args(source, default_size=PAGE_SIZE)
    return {"show": show, "page": page} if page > 1 else {"show": show}


PAGE_SIZE = 25


@bp.get("")
@login_required
def inbox():
    args = _list_args(request.args)
    page_no, per_page = parse_page_args(request.args, default_size=PAGE_SIZE)
    page = paginate(inbox_query(current_user.id, unread_only=args["show"] == "unread"), page_no, per_page)
    return render_template("notify/inbox.html", page=page, show=args["show"], args={"show": args["show"]},
                           unread=unread_count(current_user.id, cap=None))


@bp.get("/<notification_id>")
@login_required
def item(notification_id: str):
    return render_template("notify/item.html", n=_own_or_404(notification_id))


def _mark_own_read(notification_id: str) -> Notification:
    """The user's own notification (404 for anyone else's), marked read and committed."""
    n = _own_or_404(notification_id)
    mark_read(current_user.id, [n.id])
    db.session.commit()
    return n


@bp.post("/<notification_id>/open")
@login_required
def open_item(notification_id: str):
    n = _mark_own_read(notification_id)
    return redirect(_safe_url(n.url) or url_for("notify.item", notification_id=n.id))


def _safe_url(url: str | None) -> str | None:
    """The stored link, checked again as it is followed: ``notify`` refuses links off the site, but a
    row an add-on wrote with its own SQL must not make "open" an open redirect (or a CR/LF a 500)."""
    try:
        return _check_url(url)
    except NotifyError:
        return None


@bp.post("/<notification_id>/read")
@login_required
def read(notification_id: str):
    _mark_own_read(notification_id)
    return redirect(url_for("notify.inbox", **_list_args(request.form)))


@bp.post("/read-all")
@login_required
def read_all():
    n = mark_all_read(current_user.id)
    db.session.commit()
    flash(_("%(n)s notifications marked as read.", n=n) if n else _("Nothing was unread."), "success")
    return redirect(url_for("notify.inbox", **_list_args(request.form)))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences_page():
    prefs = preferences(current_user.id)
    errors: list[str] = []
    if request.method == "POST":
        choices = {p["kind"]: request.form.get(f"kind:{p['kind']}", p["channel"]) for p in prefs}
        try:
            changed = set_preferences(current_user.id, choices)
        except NotifyError:
            db.session.rollback()
            errors.append(_("Choose inbox only, e-mail at once or daily digest for each kind. Nothing was saved."))
        else:
            db.session.commit()
            flash(_("Your notification settings were saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("notify.preferences_page"))
        prefs = [{**p, "channel": choices[p["kind"]] if choices[p["kind"]] in CHANNELS else p["channel"]} for p in prefs]
    return render_template("notify/preferences.html", prefs=prefs, channels=CHANNELS, channel_labels=CHANNEL_LABELS,
                           errors=errors), (400 if errors else 200)
