"""Helpers of the monitor page and API tests: hand-made ``mon_kpi`` / ``mon_state`` / ``mon_alert``
rows for the demo's twelve branches (so the pages are tested on exact, known figures whatever
the nightly jobs would compute), an HQ Staff user local on R01, logged-in clients and tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tests.conftest import api_token_for, bearer, login, post_form

MONTH = date(2026, 3, 1)
PREV = date(2026, 2, 1)
#: noon KST on a day after March 2026: compliance and baselines are pinned, never "today"
NOW = datetime(2026, 4, 15, 12, 0)
BRANCHES = {
    "B001": "강남점", "B002": "분당점", "B003": "일산점", "B004": "인천점", "B005": "대전점", "B006": "청주점",
    "B007": "광주점", "B008": "전주점", "B009": "부산점", "B010": "대구점", "B011": "울산점", "B012": "창원점",
}
R01 = ("B001", "B002", "B003", "B004")
R01_LOCAL = "hq-r01@example.com"


def unit(code: str) -> Any:
    from portal.toolkit import OrgUnit, db

    return db.session.scalar(db.select(OrgUnit).where(OrgUnit.code == code))


def put_kpi(code: str, month: date, metric: str, value: float | None, numerator: float | None = None,
            denominator: int | None = None, detail: dict | None = None) -> None:
    from plugins.branch_monitor.models import MonKpi
    from portal.toolkit import db

    db.session.merge(MonKpi(branch_id=unit(code).id, month=month, metric=metric, value=value, numerator=numerator,
                            denominator=denominator, detail=detail))


def seed_kpis() -> None:
    """March 2026 (and February) for all twelve branches: sales, care index and the at-risk
    contact rate (company 40 %, B004 12/50 below its limits). B001's February sales are 0, so its
    March change is "N/A" (BM-6); B002 grows from 1,000,000 to 1,200,000 (+20.0 %)."""
    from portal.toolkit import db

    for i, code in enumerate(BRANCHES):
        sales = 1_000_000 + i * 100_000
        put_kpi(code, MONTH, "sales", float(sales))
        put_kpi(code, PREV, "sales", float(sales - 200_000) if code != "B001" else 0.0)
        put_kpi(code, MONTH, "care_index", 50.0 + i)
        put_kpi(code, PREV, "care_index", 48.0 + i)
        if code == "B004":
            put_kpi(code, MONTH, "at_risk_contact_rate", 12 / 50, 12, 50)
        else:
            put_kpi(code, MONTH, "at_risk_contact_rate", 0.42, 42 * (i + 1), 100 * (i + 1))
    put_kpi("B001", MONTH, "sales", 1_200_000.0)
    put_kpi("B002", MONTH, "sales", 1_200_000.0)
    put_kpi("B002", PREV, "sales", 1_000_000.0)
    db.session.commit()


def put_state(code: str, metric: str, state: str, day: date = date(2026, 3, 31)) -> None:
    from plugins.branch_monitor.models import MonState
    from portal.toolkit import db

    db.session.merge(MonState(branch_id=unit(code).id, metric=metric, state=state, since=day, evaluated_on=day))
    db.session.commit()


def put_alert(code: str, metric: str, to_state: str, from_state: str = "ok", day: date = date(2026, 3, 31)) -> int:
    from plugins.branch_monitor.models import MonAlert
    from portal.toolkit import db

    a = MonAlert(branch_id=unit(code).id, metric=metric, day=day, from_state=from_state, to_state=to_state, value=0.24)
    db.session.add(a)
    db.session.commit()
    return a.id


def r01_hq() -> Any:
    """An HQ Staff user whose only grant is local on region R01 (password: the demo's)."""
    from portal.toolkit import HQ_STAFF, db
    from portal.users.service import create_user, grant_local
    from tests.conftest import PASSWORD

    u = create_user(R01_LOCAL, "수도권 본부 담당", PASSWORD)
    grant_local(u, HQ_STAFF, unit("R01"))
    db.session.commit()
    return u


def client_for(app: Any, email: str, locale: str | None = None) -> Any:
    client = app.test_client()
    resp = login(client, email)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    if locale:
        post_form(client, "/language", {"lang": locale, "next": "/dashboard"})
    return client


def token_headers(email: str) -> dict[str, str]:
    return bearer(api_token_for(email))
