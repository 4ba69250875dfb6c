"""Administrators' pages: users & roles, add-ons control panel, audit and access logs."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from .. import audit
from ..bounds import local_midnight_utc, query_date
from ..extensions import db
from ..models import AccessLog, AuditEvent, OrgUnit, Partner, PartnerGroup, User
from ..pagination import paginate, parse_page_args
from ..plugins_lifecycle import PluginError, install, set_enabled, states, uninstall
from ..security import permission_required
from ..users.service import UserError, create_user, grant_global, grant_local, revoke_global, revoke_local
from . import bp
from .forms import AddonActionForm, LocalRoleForm, RevokeForm, UserEditForm, UserForm, with_role_choices


@bp.get("/users")
@permission_required("users.manage")
def users():
    q = (request.args.get("q") or "").strip()[:100]
    stmt = select(User).order_by(User.email)
    if q:
        stmt = stmt.where(or_(User.email.startswith(q.lower(), autoescape=True), User.name.startswith(q, autoescape=True)))
    page = paginate(stmt, *parse_page_args(request.args))
    return render_template("manage/users.html", page=page, q=q, args={"q": q} if q else {})


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("users.manage")
def user_new():
    form = UserForm()
    with_role_choices(form)
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data, form.name.data, form.password.data, roles=form.roles.data,
                               locale=form.locale.data)
        except UserError as exc:
            db.session.rollback()
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("manage.user", user_id=user.id))
    return render_template("manage/user_new.html", form=form), (400 if request.method == "POST" else 200)


def _find_target(code: str):
    code = code.strip().upper()
    for model in (OrgUnit, PartnerGroup, Partner):
        obj = db.session.execute(select(model).where(model.code == code)).scalar_one_or_none()
        if obj is not None:
            return obj
    return None


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required("users.manage")
def user(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = UserEditForm(obj=user) if request.method == "GET" else UserEditForm()
    local_form, revoke_form = LocalRoleForm(prefix="lr"), RevokeForm(prefix="rv")
    with_role_choices(form, local_form)
    if request.method == "GET":
        form.roles.data = sorted(user.role_names)
    action = request.form.get("form")
    if request.method == "POST" and action == "edit" and form.validate_on_submit():
        if user.id == current_user.id and ("Site Administrator" not in form.roles.data or not form.active.data):
            flash(_("You cannot remove your own administrator role or deactivate yourself."), "error")
        else:
            changes = audit.diff(user, {"name": form.name.data.strip(), "locale": form.locale.data, "active": form.active.data})
            if changes:
                audit.record("user.updated", user, changes=changes)
            for role in set(form.roles.data) - user.role_names:
                grant_global(user, role)
            for role in user.role_names - set(form.roles.data):
                revoke_global(user, role)
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("manage.user", user_id=user.id))
    elif request.method == "POST" and action == "local" and local_form.validate_on_submit():
        target = _find_target(local_form.target.data)
        if target is None:
            local_form.target.errors.append(_("No branch, region, group or distributor with that code."))
        else:
            try:
                grant_local(user, local_form.role.data, target)
            except UserError as exc:
                db.session.rollback()
                local_form.target.errors.append(str(exc))
            else:
                db.session.commit()
                flash(_("Local role granted."), "success")
                return redirect(url_for("manage.user", user_id=user.id))
    elif request.method == "POST" and action == "reset" and revoke_form.validate_on_submit():
        from ..auth.service import request_reset

        request_reset(user.email)
        flash(_("A password-reset e-mail for %(email)s is in the outbox.", email=user.email), "success")
        return redirect(url_for("manage.user", user_id=user.id))
    elif request.method == "POST" and action == "revoke" and revoke_form.validate_on_submit():
        try:
            revoke_local(user, int(revoke_form.local_role_id.data))
        except ValueError:
            abort(400)
        db.session.commit()
        flash(_("Local role removed."), "success")
        return redirect(url_for("manage.user", user_id=user.id))
    status = 400 if request.method == "POST" else 200
    return render_template("manage/user.html", user=user, form=form, local_form=local_form,
                           revoke_form=revoke_form), status


@bp.route("/addons", methods=["GET"])
@permission_required("addons.manage")
def addons():
    from ..plugin_settings import schema

    addons = [{**a, "has_settings": bool(schema(a["name"]))} for a in states()]
    return render_template("manage/addons.html", addons=addons, form=AddonActionForm())


@bp.route("/addons/<name>/settings", methods=["GET", "POST"])
@permission_required("addons.manage")
def addon_settings(name: str):
    from flask_wtf import FlaskForm

    from ..plugin_settings import get_settings, save_settings, schema

    state = next((s for s in states() if s["name"] == name), None)
    items = schema(name)
    if state is None or not state["installed"] or not items:
        abort(404)
    form = FlaskForm()
    errors: dict[str, str] = {}
    values = get_settings(name)
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        submitted = {i["name"]: request.form.get(i["name"]) for i in items}
        errors = save_settings(name, submitted)
        if not errors:
            flash(_("Settings saved."), "success")
            return redirect(url_for("manage.addon_settings", name=name))
        db.session.rollback()
        values = {**values, **submitted}
    return render_template("manage/addon_settings.html", addon=state, items=items, values=values, errors=errors,
                           form=form), (400 if errors else 200)


@bp.post("/addons/<name>")
@permission_required("addons.manage")
def addon_action(name: str):
    form = AddonActionForm()
    if not form.validate_on_submit():
        abort(400)
    actions = {
        "install": lambda: install(name),
        "uninstall": lambda: uninstall(name, purge=bool(form.purge.data)),
        "enable": lambda: set_enabled(name, True),
        "disable": lambda: set_enabled(name, False),
    }
    if form.action.data not in actions:
        abort(400)
    try:
        actions[form.action.data]()
    except PluginError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        done = {"install": _("%(name)s installed.", name=name), "uninstall": _("%(name)s uninstalled.", name=name),
                "enable": _("%(name)s enabled.", name=name), "disable": _("%(name)s disabled.", name=name)}
        flash(done[form.action.data], "success")
    return redirect(url_for("manage.addons"))


def _date_arg(name: str, notices: list[str]) -> date | None:
    """A filter date kept between 2000-01-01 and today (Asia/Seoul): ``end=9999-12-31`` must not
    overflow ``end + 1 day``; what was changed or ignored is said in ``notices``."""
    raw = (request.args.get(name) or "").strip()
    try:
        parsed = date.fromisoformat(raw) if raw else None
    except ValueError:
        parsed = None
    day, notice = query_date(raw, parsed)
    if notice:
        notices.append(notice)
    return day


@bp.get("/audit")
@permission_required("audit.view")
def audit_log():
    kind = "access" if request.args.get("log") == "access" else "audit"
    model = AccessLog if kind == "access" else AuditEvent
    stmt = select(model).order_by(model.at.desc(), model.id.desc())
    args = {k: v for k in ("log", "action", "actor", "object", "start", "end") if (v := (request.args.get(k) or "").strip()[:100])}
    if args.get("action"):
        stmt = stmt.where(model.action.startswith(args["action"], autoescape=True))
    if args.get("actor"):
        if kind == "audit":
            stmt = stmt.where(AuditEvent.actor_label.startswith(args["actor"].lower(), autoescape=True))
        else:
            stmt = stmt.where(AccessLog.user_id.in_(select(User.id).where(User.email.startswith(args["actor"].lower(), autoescape=True))))
    if args.get("object"):
        stmt = stmt.where(model.object_id == args["object"])
    notices: list[str] = []
    for name in ("start", "end"):
        if (day := _date_arg(name, notices)) is not None:
            args[name] = day.isoformat()
            bound = local_midnight_utc(day + timedelta(days=1 if name == "end" else 0))
            stmt = stmt.where(model.at >= bound if name == "start" else model.at < bound)
        else:
            args.pop(name, None)
    page = paginate(stmt, *parse_page_args(request.args))
    return render_template("manage/audit.html", page=page, kind=kind, args=args, notices=notices)
