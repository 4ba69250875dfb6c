"""Helpers of the programme tests: a valid programme body (the public JSON shape), users by
e-mail, programmes created through the service and moved to a state for a test."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import select

#: Noon KST on a fixed day: sessions in 2027 are in the future, whatever the time of day.
NOW = datetime(2026, 12, 7, 3, 0)

BODY: dict[str, Any] = {
    "name": "G01 건강식품 지원",
    "group": "G01",
    "category": "health",
    "objective_metric": "category_purchase_rate",
    "baseline_window": {"start": "2026-01-01", "end": "2026-12-31"},
    "run_window": {"start": "2027-01-10", "end": "2027-02-28"},
    "design": ["holdout", "did_vs_groups"],
    "holdout_share": 0.1,
    "seed": 42,
    "budget": 5000000,
    "target_mde": 0.03,
    "objective": "건강식품 구매율 +3 %p",
    "steps": [
        {"kind": "message", "title": "리더 메시지", "channels": ["email", "dm"], "rules": None, "offset_days": 0},
        {"kind": "seminar_series", "title": "건강 세미나", "rules": None, "offset_days": 14, "completion_min": 2},
    ],
}


def body(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BODY)
    data.update(changes)
    return data


def user(email: str):
    from portal.toolkit import User, db

    return db.session.scalar(select(User).where(User.email == email))


def programme(email: str = "hq@example.com", **changes: Any):
    """A draft created through the service (committed)."""
    from plugins.prm_groups.programmes.service import create
    from portal.toolkit import db

    p = create(user(email), body(**changes), now=NOW)
    db.session.commit()
    return p


def set_state(programme_id: int, state: str) -> None:
    """Put a programme in ``state`` for a test (the column is the workflow's state)."""
    from plugins.prm_groups.models import PrmProgramme
    from portal.toolkit import db

    db.session.get(PrmProgramme, programme_id).state = state
    db.session.commit()
