"""What installing the add-on does once its tables exist (``portal_install``): every branch gets
its default calendar row, complaints already flagged get an opening date, and the aggregates are
built from the warehouse, so the monitor shows history from the first page."""

from __future__ import annotations


def on_install() -> None:
    from .aggregates.service import rebuild
    from .calendar.service import ensure_branches
    from .kpis.complaints import backfill

    ensure_branches()
    backfill()
    rebuild()
