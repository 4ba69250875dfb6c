"""Pages of the workflow service: "my tasks" and the one form endpoint every transition button
posts to. Thin: the rules live in ``service`` and ``tasks``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..extensions import db
from ..pagination import parse_page_args
from ..security import id_or_404
from . import tasks as task_list
from .service import (
    WorkflowError,
    WorkflowNotFound,
    binding_of,
    registered_types,
    state_of,
    transition,
    workflow_for,
)

bp = Blueprint("workflow", __name__, template_folder="templates")


@bp.get("/tasks")
@login_required
def tasks():
    page_no, per_page = parse_page_args(request.args, default_size=25)
    kinds = {b.type_name: b for b in registered_types()}
    chosen = request.args.get("type") or None
    if chosen is not None and chosen not in kinds:
        chosen = None
    counts = task_list.counts(current_user)
    page = task_list.page(current_user, page_no, per_page, chosen)
    others = task_list.hook_tasks(current_user) if chosen is None else []
    return render_template("workflow/tasks.html", page=page, counts=counts, kinds=kinds, chosen=chosen,
                           others=others[:100], others_total=len(others), total=sum(counts.values()) + len(others))


def _safe_next(value: str | None, fallback: str) -> str:
    """Only a path on this site (never ``//evil`` or ``https://…``): no open redirect. No control
    character either: ``urlsplit`` drops tabs and line breaks, so it would pass them, and a CR/LF
    in ``Location`` is a header injection (werkzeug refuses it with a 500)."""
    if (value and value.startswith("/") and not value.startswith("//") and not urlsplit(value).netloc
            and "\\" not in value and value.isprintable() and " " not in value and len(value) <= 2000):
        return value
    return fallback


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/workflow/<type_name>/<object_id>/<name>")
@login_required
def fire(type_name: str, object_id: str, name: str):
    """Fire a transition from a form (``comment``, ``revision`` = the hash the page showed,
    ``next`` = where to go back). Refusals answer with their status (403/404/409/422): JSON for
    API-style callers, else a page with the reason and, for a comment problem, the form again."""
    try:
        binding = binding_of(type_name)
        workflow_for(binding)
    except (LookupError, WorkflowNotFound):
        abort(404)
    if not binding.endpoint:  # its add-on's own page decides (it does more than move the state)
        abort(404)
    obj = db.session.get(binding.model, id_or_404(binding.model, object_id)) or abort(404)
    comment = request.form.get("comment", "")
    revision = request.form.get("revision") or None
    back = _safe_next(request.form.get("next"), _object_url(binding, obj))
    try:
        transition(obj, name, current_user, comment, revision=revision)
    except WorkflowError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        if _wants_json():
            return jsonify({"error": exc.code, "message": str(exc.message)}), exc.status
        t = workflow_for(binding).transitions.get(name)
        return render_template("workflow/refused.html", error=exc, transition=t, comment=comment, revision=revision,
                               back=back, type_name=type_name, object_id=obj.id), exc.status
    db.session.commit()
    if _wants_json():
        return jsonify({"state": state_of(obj)}), 200
    flash(_("Done: %(action)s.", action=workflow_for(binding).transitions[name].title), "success")
    return redirect(back, 303)


def _object_url(binding: Any, obj: Any) -> str:
    try:
        return binding.url(obj)
    except Exception:  # noqa: BLE001  (a broken url callable must not turn a done transition into a 500)
        return "/tasks"
