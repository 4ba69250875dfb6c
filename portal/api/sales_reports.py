"""API: daily sales reports (upload, list, detail, rejections)."""

from __future__ import annotations

from . import bp  # noqa: F401
