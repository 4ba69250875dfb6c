from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from . import bp


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("dashboard.index"))


@bp.get("/dashboard")
@login_required
def index():
    return render_template("dashboard/index.html")


@bp.get("/healthz")
def healthz():
    from ..extensions import db

    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}
