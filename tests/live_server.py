"""A real HTTP server for browser tests: the portal on its own cloned database, served by
werkzeug in a background thread on 127.0.0.1 and a free port.

Use it from a test module with ``pytest_plugins = ("tests.live_server",)`` and the
``live_server`` fixture, or call :func:`serve` directly with any app.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask import Flask
from werkzeug.serving import make_server


@dataclass
class LiveServer:
    app: Flask
    url: str  # base URL without a trailing slash, e.g. http://127.0.0.1:43125

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields the base URL."""
    # Port 0: the kernel picks a free port, and make_server binds it at once (no race).
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="live-server", daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(url + "/login", timeout=30) as resp:  # noqa: S310 - our own loopback server
            assert resp.status == 200, f"live server answered {resp.status} on /login"
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def live_server(template_db) -> Iterator[LiveServer]:
    """The portal (test config, seeded demo data) on a fresh clone, served over real HTTP."""
    from tests.conftest import make_app

    url, drop = template_db.clone()
    app = make_app(url)
    try:
        with serve(app) as base:
            yield LiveServer(app=app, url=base)
    finally:
        with app.app_context():
            from portal.extensions import db

            db.session.remove()
            db.engine.dispose()
        drop()
