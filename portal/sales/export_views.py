"""Sale-line browsing and CSV/XLSX export (scoped, access-logged)."""

from __future__ import annotations

from . import bp  # noqa: F401
