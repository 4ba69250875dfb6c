"""Data-to-fix queue and duplicate-candidate pages."""

from __future__ import annotations

from . import bp  # noqa: F401
