"""Session test data: users placed by local roles, published stories written with the model (the
story service is another area's), sessions written directly when a test needs a past start, and
times at noon KST (never depending on the hour the suite runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.conftest import PASSWORD, api_token_for, bearer

SEOUL = ZoneInfo("Asia/Seoul")


def noon_kst(days_ahead: int) -> datetime:
    """Noon in Seoul ``days_ahead`` days from today, as naive UTC."""
    day = datetime.now(SEOUL).date() + timedelta(days=days_ahead)
    return datetime(day.year, day.month, day.day, 12, tzinfo=SEOUL).astimezone(UTC).replace(tzinfo=None)


def seoul_iso(days_ahead: int, hour: int = 12) -> str:
    day = datetime.now(SEOUL).date() + timedelta(days=days_ahead)
    return f"{day.isoformat()}T{hour:02d}:00"


def unit(code: str):
    from portal.toolkit import OrgUnit, db

    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def user(email: str):
    from portal.auth.service import find_user

    return find_user(email)


def make_user(email: str, role: str, unit_code: str):
    """A new user with ``role`` locally on unit ``unit_code`` (committed)."""
    from portal.toolkit import db
    from portal.users.service import create_user, grant_local

    u = create_user(email, f"직원 {unit_code}", PASSWORD)
    grant_local(u, role, unit(unit_code))
    db.session.commit()
    return u


def headers(email: str) -> dict[str, str]:
    return bearer(api_token_for(email))


def story(title: str = "건강식품 세미나로 재구매율 상승", *, state: str = "published", author: str = "store1@example.com",
          visibility: str = "all", scope: str | None = None):
    """A story row (the story service belongs to another area)."""
    from plugins.knowledge_share.models import KsStory
    from portal.toolkit import db, utcnow

    a = user(author)
    s = KsStory(title=title, summary="요약", state=state, author_id=a.id, author_unit_id=unit("B001").id,
                visibility=visibility, scope_unit_id=unit(scope).id if scope else None,
                published_at=utcnow() if state == "published" else None)
    db.session.add(s)
    db.session.commit()
    return s


def session_row(*, starts_in_days: int = 7, org: str | None = None, host: str = "hq@example.com", title: str = "지식 공유회",
                starts_at: datetime | None = None):
    """A session written directly (a started session cannot be created through the service)."""
    import uuid

    from plugins.knowledge_share.models import KsSession
    from portal.toolkit import db

    start = starts_at or noon_kst(starts_in_days)
    s = KsSession(title=title, starts_at=start, ends_at=start + timedelta(hours=2), place="본사 3층 회의실",
                  host_id=user(host).id, org_unit_id=unit(org or hq_code()).id, uid=f"ks-session-{uuid.uuid4().hex}@test",
                  sequence=0)
    db.session.add(s)
    db.session.commit()
    return s


def hq_code() -> str:
    from portal.toolkit import OrgUnit, db

    return db.session.scalar(select(OrgUnit.code).where(OrgUnit.kind == "hq"))
