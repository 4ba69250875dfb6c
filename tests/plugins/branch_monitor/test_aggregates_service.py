"""Day and month sales aggregates (area A): the import hook against a plain SUM over the sale
lines (BM-7), replacements, month boundaries, new customers, and the rebuild giving the same rows."""

from __future__ import annotations

from datetime import date

from tests.plugins.branch_monitor.aggregates_fixtures import (
    branch_id,
    day_rows,
    import_csv,
    month_rows,
    plain_day,
    plain_month,
    report_csv,
)


def _report(report_id: int):
    from portal.toolkit import SalesReport, db

    return db.session.get(SalesReport, report_id)


def _hook(report_id: int) -> None:
    """The import hook as the core fires it (after the commit, the add-on's reaction committed)."""
    from portal.events import fire

    result = fire("portal_sales_imported", report=_report(report_id))
    assert result.ok, result.failed


def test_bm7_replaced_report_and_idempotent_hook(app):
    """BM-7: after a replacement with corrected lines, day and month aggregates equal the sum of the
    non-replaced lines; running the import hook twice changes nothing."""
    day = date(2010, 1, 20)
    with app.app_context():
        b001 = branch_id("B001")
        import_csv(report_csv(day, "B001", [("AGGC1", 10000), ("AGGC2", 20000), ("AGGC1", 5000)]), "b001-0120.csv")
        assert day_rows()[(b001, day)] == (35000, 3, 2, 2)
        assert month_rows()[(b001, date(2010, 1, 1))] == (35000, 3, 2, 2, 1)

        fixed = import_csv(report_csv(day, "B001", [("AGGC1", 12000), ("AGGC3", 30000)], tag="F"),
                           "b001-0120-fixed.csv", replace=True)
        assert fixed.replaced_report_id is not None
        assert day_rows()[(b001, day)] == (42000, 2, 2, 2)  # AGGC2's line is gone with the old report
        assert day_rows()[(b001, day)][:3] == plain_day(b001, day)
        month = month_rows()[(b001, date(2010, 1, 1))]
        assert month == (42000, 2, 2, 2, 1)
        assert month[:3] + (month[4],) == plain_month(b001, date(2010, 1, 1), date(2010, 1, 31))

        days, months = day_rows(), month_rows()
        _hook(fixed.report_id)
        _hook(fixed.report_id)
        assert day_rows() == days and month_rows() == months
        # the replaced report's event, delivered late (a retry), changes nothing either
        _hook(fixed.replaced_report_id)
        assert day_rows() == days and month_rows() == months


def test_bm7_replaced_report_on_other_days(app):
    """BM-7: the replaced report's lines fell on two days (an old file); the replacement has one:
    the day only the old report had loses its row, the other holds the corrected lines."""
    from plugins.branch_monitor.aggregates.service import apply_report
    from plugins.branch_monitor.models import MonReportSpan
    from portal.toolkit import SaleLine, SalesReport, db

    d1, d2 = date(2010, 3, 1), date(2010, 3, 2)
    with app.app_context():
        b002 = branch_id("B002")
        seed = import_csv(report_csv(date(2010, 2, 26), "B003", [("AGGOLD1", 1000), ("AGGOLD2", 1000)]), "b003.csv")
        customers = [c for c, in db.session.execute(
            db.select(SaleLine.customer_id).where(SaleLine.report_id == seed.report_id).order_by(SaleLine.id))]
        old = SalesReport(branch_id=b002, report_date=d2, status="committed", file_name="legacy.csv", rows=3, accepted=3)
        db.session.add(old)
        db.session.flush()
        db.session.add_all([
            SaleLine(report_id=old.id, customer_id=customers[0], branch_id=b002, sold_at=d1, amount=7000),
            SaleLine(report_id=old.id, customer_id=customers[1], branch_id=b002, sold_at=d2, amount=8000),
            SaleLine(report_id=old.id, customer_id=customers[1], branch_id=b002, sold_at=d2, amount=9000)])
        db.session.commit()
        apply_report(old)
        db.session.commit()
        span = db.session.get(MonReportSpan, old.id)
        assert (span.branch_id, span.first_day, span.last_day) == (b002, d1, d2)
        assert day_rows()[(b002, d1)] == (7000, 1, 1, 0)  # bought first at B003 in February
        assert day_rows()[(b002, d2)] == (17000, 2, 1, 0)

        fixed = import_csv(report_csv(d2, "B002", [("AGGNEW1", 4000)]), "b002-0302.csv", replace=True)
        assert fixed.replaced_report_id == old.id
        rows = day_rows()
        assert (b002, d1) not in rows
        assert rows[(b002, d2)] == (4000, 1, 1, 1) == plain_day(b002, d2) + (1,)
        assert month_rows()[(b002, date(2010, 3, 1))] == (4000, 1, 1, 1, 1)


def test_month_boundary(app):
    """A line on the last day of a month and one on the first of the next fall in two months; a
    customer is new only on their first day, and distinct within each month."""
    jan31, feb1 = date(2010, 1, 31), date(2010, 2, 1)
    with app.app_context():
        b003 = branch_id("B003")
        import_csv(report_csv(jan31, "B003", [("AGGX", 1000)]), "b003-0131.csv")
        import_csv(report_csv(feb1, "B003", [("AGGX", 2000), ("AGGY", 3000), ("AGGY", 500)]), "b003-0201.csv")
        days, months = day_rows(), month_rows()
        assert days[(b003, jan31)] == (1000, 1, 1, 1)
        assert days[(b003, feb1)] == (5500, 3, 2, 1)
        assert months[(b003, date(2010, 1, 1))] == (1000, 1, 1, 1, 1)
        assert months[(b003, date(2010, 2, 1))] == (5500, 3, 2, 1, 1)


def test_new_customer_moves_to_an_earlier_report(app):
    """A late report for an earlier day at another branch makes that day the customer's first
    purchase: they stop counting as new where they were before (day and month)."""
    with app.app_context():
        b004, b005 = branch_id("B004"), branch_id("B005")
        import_csv(report_csv(date(2010, 5, 10), "B004", [("AGGZ", 1000), ("AGGW", 1000)]), "b004.csv")
        assert day_rows()[(b004, date(2010, 5, 10))] == (2000, 2, 2, 2)
        import_csv(report_csv(date(2010, 4, 28), "B005", [("AGGZ", 3000)]), "b005.csv")
        days, months = day_rows(), month_rows()
        assert days[(b005, date(2010, 4, 28))] == (3000, 1, 1, 1)
        assert days[(b004, date(2010, 5, 10))] == (2000, 2, 2, 1)
        assert months[(b004, date(2010, 5, 1))] == (2000, 2, 2, 1, 1)
        assert months[(b005, date(2010, 4, 1))] == (3000, 1, 1, 1, 1)


def test_rebuild_equals_incremental(app):
    """The import hook's rows (few keys) and the rebuild's (all lines, or a range) are one answer."""
    from plugins.branch_monitor.aggregates.service import rebuild, sum_check
    from plugins.branch_monitor.models import MonReportSpan, MonRun
    from portal.toolkit import db

    with app.app_context():
        first = import_csv(report_csv(date(2010, 6, 30), "B006", [("AGGA", 1000), ("AGGB", 2000)]), "b006-0630.csv")
        import_csv(report_csv(date(2010, 7, 1), "B006", [("AGGA", 1500), ("AGGC", 2500)]), "b006-0701.csv")
        import_csv(report_csv(date(2010, 6, 15), "B007", [("AGGB", 700)]), "b007-0615.csv")
        import_csv(report_csv(date(2010, 7, 1), "B006", [("AGGA", 1600)], tag="F"), "b006-0701-f.csv", replace=True)
        # a report filed before the add-on was installed has no span: its replacement recomputes its day
        db.session.delete(db.session.get(MonReportSpan, first.report_id))
        db.session.commit()
        import_csv(report_csv(date(2010, 6, 30), "B006", [("AGGA", 900), ("AGGB", 2200)], tag="F"), "b006-0630-f.csv",
                   replace=True)
        assert day_rows()[(branch_id("B006"), date(2010, 6, 30))] == (3100, 2, 2, 1)  # AGGB bought first on 6/15
        days, months = day_rows(), month_rows()

        ranged = rebuild(date(2010, 6, 20), date(2010, 7, 3))
        assert (ranged["from"], ranged["to"]) == (date(2010, 6, 1), date(2010, 7, 31))
        assert day_rows() == days and month_rows() == months

        done = rebuild()
        assert day_rows() == days and month_rows() == months
        assert done["days"] == len(days) and done["months"] == len(months)
        run = db.session.get(MonRun, done["run_id"])
        assert (run.kind, run.status, run.rows) == ("rebuild", "done", len(days) + len(months))
        assert run.finished_at is not None and run.detail["seconds"] >= 0
        check = sum_check()
        assert (check["day_sales"], check["day_lines"]) == (check["line_sales"], check["line_count"])
        # new customers: one first day each, so a month's are the sum of its days'
        by_month: dict = {}
        for (b, d), row in days.items():
            by_month[(b, d.replace(day=1))] = by_month.get((b, d.replace(day=1)), 0) + row[3]
        assert {k: v[3] for k, v in months.items()} == by_month


def test_rebuild_failure_is_recorded(app, monkeypatch):
    """A failing rebuild leaves the tables as they were and its run ``failed`` with the reason."""
    import pytest

    from plugins.branch_monitor.aggregates import service
    from plugins.branch_monitor.models import MonRun
    from portal.toolkit import db

    with app.app_context():
        days = day_rows()

        def broken(*_args):
            service.db.session.execute(service.delete(service.MonBranchDay))
            raise RuntimeError("disk full")

        monkeypatch.setattr(service, "_rebuild", broken)
        with pytest.raises(RuntimeError):
            service.rebuild()
        assert day_rows() == days
        run = db.session.execute(db.select(MonRun).order_by(MonRun.id.desc()).limit(1)).scalar_one()
        assert (run.status, run.message) == ("failed", "disk full")


def test_daily_sales(app):
    from plugins.branch_monitor.aggregates.service import daily_sales

    with app.app_context():
        b008 = branch_id("B008")
        import_csv(report_csv(date(2010, 8, 2), "B008", [("AGGD", 1234)]), "b008.csv")
        assert daily_sales(b008, date(2010, 8, 1), date(2010, 8, 3)) == {date(2010, 8, 2): 1234}
        assert daily_sales(b008, date(2010, 8, 3), date(2010, 8, 9)) == {}


def test_dropped_customer_settles_at_the_nightly_rebuild(app):
    """The one case the import cannot see (docs: Aggregates): a replacement drops a customer's only
    first-day line; their ``new`` moves to their next purchase day at the nightly rebuild."""
    from plugins.branch_monitor.aggregates.service import is_stale, refresh_if_stale

    with app.app_context():
        b012 = branch_id("B012")
        import_csv(report_csv(date(2010, 12, 1), "B012", [("AGGQ", 1000), ("AGGP", 1000)]), "b012-1201.csv")
        import_csv(report_csv(date(2010, 12, 2), "B012", [("AGGQ", 500)]), "b012-1202.csv")
        assert day_rows()[(b012, date(2010, 12, 2))] == (500, 1, 1, 0)
        import_csv(report_csv(date(2010, 12, 1), "B012", [("AGGP", 1000)], tag="F"), "b012-1201-f.csv", replace=True)
        assert day_rows()[(b012, date(2010, 12, 1))] == (1000, 1, 1, 1)
        assert day_rows()[(b012, date(2010, 12, 2))] == (500, 1, 1, 0)  # not seen by the import
        assert is_stale() and refresh_if_stale() is not None
        assert day_rows()[(b012, date(2010, 12, 2))] == (500, 1, 1, 1)
        assert month_rows()[(b012, date(2010, 12, 1))] == (1500, 2, 2, 2, 2)


def test_a_large_update_rebuilds_the_months_it_spans(app, monkeypatch):
    """Past ``MAX_KEYS`` (branch, day)s the import rebuilds whole months: the same rows as the
    key-by-key update (here forced with a limit of 0)."""
    from plugins.branch_monitor.aggregates import service

    monkeypatch.setattr(service, "MAX_KEYS", 0)
    with app.app_context():
        b004, b005 = branch_id("B004"), branch_id("B005")
        import_csv(report_csv(date(2010, 5, 10), "B004", [("AGGZ", 1000), ("AGGW", 1000)]), "b004.csv")
        import_csv(report_csv(date(2010, 4, 28), "B005", [("AGGZ", 3000)]), "b005.csv")
        days, months = day_rows(), month_rows()
        assert days[(b005, date(2010, 4, 28))] == (3000, 1, 1, 1)
        assert days[(b004, date(2010, 5, 10))] == (2000, 2, 2, 1)
        assert months[(b004, date(2010, 5, 1))] == (2000, 2, 2, 1, 1)
        service.rebuild()
        assert day_rows() == days and month_rows() == months
