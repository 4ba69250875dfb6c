"""Sales report pages: upload, reports list, report detail, status board."""

from __future__ import annotations

from . import bp  # noqa: F401
