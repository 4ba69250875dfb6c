"""Korean and English UI: the user's own choice, else the session's, else Korean."""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session
from flask_login import current_user

from .extensions import babel


def select_locale() -> str:
    languages = current_app.config["PORTAL_LANGUAGES"]
    if not has_request_context():  # CLI commands and jobs: no user, no session
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if request and request.path.startswith("/api/"):
        return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(app.root_path + "/translations"))
