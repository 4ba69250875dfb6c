"""Flask-Login wiring: sessions by server-side token, API by bearer token."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import lazy_gettext as _l

from ..extensions import login_manager
from .sessions import load_session_user


def init_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # our own server-side sessions do this job

    @login_manager.user_loader
    def _load(token: str):
        return load_session_user(token)

    @login_manager.unauthorized_handler
    def _unauthorized():
        from flask import flash, jsonify, redirect, url_for

        if request.path.startswith("/api/"):
            return jsonify({"error": "unauthorized", "message": "A valid bearer token is required."}), 401
        flash(login_manager.login_message, "info")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
