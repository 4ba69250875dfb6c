"""Background and periodic jobs of the add-on (``portal_jobs``), one list per area."""

from __future__ import annotations

from typing import Any


def jobs() -> list[dict[str, Any]]:
    from .results.jobs import JOBS as RESULTS
    from .sessions.jobs import JOBS as SESSIONS
    from .social.jobs import JOBS as SOCIAL

    return [*RESULTS, *SOCIAL, *SESSIONS]
