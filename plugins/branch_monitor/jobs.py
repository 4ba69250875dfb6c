"""Background and periodic jobs of the add-on (``portal_jobs``), one list per area."""

from __future__ import annotations

from typing import Any


def jobs() -> list[dict[str, Any]]:
    from .aggregates.jobs import JOBS as AGGREGATES
    from .alerts.jobs import JOBS as ALERTS
    from .compliance.jobs import JOBS as COMPLIANCE
    from .kpis.jobs import JOBS as KPIS

    return [*AGGREGATES, *KPIS, *ALERTS, *COMPLIANCE]
