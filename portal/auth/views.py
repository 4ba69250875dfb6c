"""Login, logout, password change/reset and language choice."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from .. import audit
from ..extensions import db
from . import bp
from .forms import LanguageForm, LoginForm, PasswordChangeForm, ResetForm, ResetRequestForm
from .service import (
    AuthError,
    ThrottledError,
    authenticate,
    change_password,
    request_reset,
    reset_password,
    reset_token_valid,
)
from .sessions import end_session


def _safe_next(target: str | None) -> str:
    """Only a path on this site: browsers read ``/\\host`` and ``/<tab>/host`` as ``//host``."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            result = authenticate(form.email.data, form.password.data, request.remote_addr)
        except ThrottledError as exc:
            flash(str(exc), "error")
            status, headers = 429, {"Retry-After": str(exc.retry_after)}
        except AuthError as exc:
            flash(str(exc), "error")
            status = 401
        else:
            lang = session.get("lang")
            session.clear()  # fresh cookie contents at the privilege change
            if lang:
                session["lang"] = lang
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, headers


@bp.post("/logout")
@login_required
def logout():
    end_session(current_user.session_token)
    audit.record("auth.logout", current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm()
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current.data, form.new.data, keep_session=current_user.session_token,
                            ip=request.remote_addr)
        except AuthError as exc:
            db.session.rollback()
            form.new.errors.append(str(exc))
            if isinstance(exc, ThrottledError):
                status = 429
        else:
            flash(_("Your password has been changed. Other sessions were logged out."), "success")
            return redirect(url_for("dashboard.index"))
    return render_template("auth/password.html", form=form), status


@bp.route("/password-reset", methods=["GET", "POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        request_reset(form.email.data)
        flash(_("If the address belongs to an account, a reset link is on its way."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    if not reset_token_valid(token):
        flash(_("This reset link is invalid or has expired."), "error")
        return redirect(url_for("auth.reset_request"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            reset_password(token, form.new.data)
        except AuthError as exc:
            db.session.rollback()
            form.new.errors.append(str(exc))
        else:
            flash(_("Your password has been reset. Please log in."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form)


@bp.post("/language")
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            current_user.locale = form.lang.data
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))
