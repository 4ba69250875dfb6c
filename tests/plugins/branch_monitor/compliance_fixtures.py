"""Helpers of the calendar and compliance tests: units and users by code/e-mail, a branch's filings
of a period replaced by exactly the ones a test describes (KST upload times), an R01-local HQ user."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

KST = ZoneInfo("Asia/Seoul")


def unit(code: str):
    from portal.toolkit import OrgUnit, db

    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def user(email: str):
    from portal.toolkit import User, db

    return db.session.scalar(select(User).where(User.email == email))


def kst(y: int, m: int, d: int, hh: int = 12, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=KST)


def clear_reports(code: str, start: date, end: date) -> None:
    """Remove the demo's reports (and their lines) of a branch between two days: the test files its own."""
    from portal.toolkit import SaleLine, SalesReport, db

    branch = unit(code)
    ids = select(SalesReport.id).where(SalesReport.branch_id == branch.id, SalesReport.report_date >= start,
                                       SalesReport.report_date <= end)
    db.session.execute(delete(SaleLine).where(SaleLine.report_id.in_(ids)))
    db.session.execute(delete(SalesReport).where(SalesReport.branch_id == branch.id, SalesReport.report_date >= start,
                                                 SalesReport.report_date <= end))
    db.session.commit()


def file_report(code: str, day: date, at: datetime, status: str = "committed", replaces: int | None = None) -> int:
    """A report of ``code`` for ``day`` uploaded at ``at`` (aware KST); returns its id."""
    from datetime import UTC

    from portal.toolkit import SalesReport, db

    report = SalesReport(branch_id=unit(code).id, report_date=day, status=status, file_name=f"{code}_{day}.csv",
                         source="web", mode="strict", replaces_id=replaces,
                         created_at=at.astimezone(UTC).replace(tzinfo=None))
    db.session.add(report)
    db.session.commit()
    return report.id


def local_user(email: str, role: str, code: str, name: str = "지역 담당자"):
    """A user holding ``role`` locally on the org unit ``code`` (made once)."""
    from portal.toolkit import LocalRole, User, db

    found = user(email)
    if found is not None:
        return found
    u = User(email=email, name=name, password_hash="!", locale="ko", active=True)
    db.session.add(u)
    db.session.flush()
    db.session.add(LocalRole(user_id=u.id, role=role, org_unit_id=unit(code).id))
    db.session.commit()
    db.session.refresh(u)
    return u


def r01_hq():
    from portal.toolkit import HQ_STAFF

    return local_user("hq.r01@example.com", HQ_STAFF, "R01", "서울 지역 본부")
