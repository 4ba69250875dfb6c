"""Partner Portal: the core application (app factory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from .config import load_config
from .extensions import csrf, db, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
__version__ = "0.1.0"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config from the environment, then ``config`` overrides (tests)."""
    instance = os.environ.get("PORTAL_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")
    app = Flask(__name__, instance_path=instance, instance_relative_config=False)
    from .bounds import IdConverter

    app.url_map.converters["int"] = IdConverter  # an id past its column's range is 404, not a driver error
    app.config.update(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)

    db.init_app(app)
    from .db_liveness import init_liveness

    init_liveness(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    from .i18n import init_i18n
    from .web import init_web

    init_i18n(app)
    from . import models  # noqa: F401  (register the core tables)
    from .platform import import_models

    import_models()
    from .analytics import bp as analytics_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .auth.loader import init_login
    from .customers import bp as customers_bp
    from .dashboard import bp as dashboard_bp
    from .manage import bp as manage_bp
    from .org import bp as org_bp
    from .quality import bp as quality_bp
    from .sales import bp as sales_bp

    init_login(app)
    from .auth.identity_cache import init_identity_cache

    init_identity_cache(app)
    for bp in (auth_bp, dashboard_bp, customers_bp, quality_bp, sales_bp, analytics_bp, org_bp, manage_bp, api_bp):
        app.register_blueprint(bp)
    csrf.exempt(api_bp)

    from .plugins import init_plugins

    init_plugins(app)
    from .platform import init_platform

    init_platform(app)
    init_web(app)

    from .cli import register_cli

    register_cli(app)
    return app
