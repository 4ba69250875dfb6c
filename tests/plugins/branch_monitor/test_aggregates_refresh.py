"""The nightly side of the aggregates: ``refresh_if_stale``, the CLI command and the job."""

from __future__ import annotations

from datetime import date

from tests.plugins.branch_monitor.aggregates_fixtures import branch_id, day_rows, import_csv, report_csv


def _fresh() -> None:
    """Settle whatever the template left (a report committed after the install's rebuild)."""
    from plugins.branch_monitor.aggregates.service import refresh_if_stale

    refresh_if_stale()


def test_refresh_if_stale(app):
    from plugins.branch_monitor.aggregates.service import is_stale, last_rebuild, refresh_if_stale
    from plugins.branch_monitor.models import MonBranchDay
    from portal.toolkit import db

    with app.app_context():
        _fresh()
        assert not is_stale() and refresh_if_stale() is None
        before = last_rebuild().id
        import_csv(report_csv(date(2010, 9, 1), "B009", [("AGGR1", 9000)]), "b009.csv")
        assert is_stale()
        # a row the import hook never sees (a merge re-pointed lines, a hand fix …) is put right
        b009 = branch_id("B009")
        db.session.get(MonBranchDay, (b009, date(2010, 9, 1))).sales = 1
        db.session.commit()
        done = refresh_if_stale()
        # from the first month the new report touched, to the last day
        assert done is not None and done["run_id"] != before and (done["from"], done["to"]) == (date(2010, 9, 1), None)
        assert day_rows()[(b009, date(2010, 9, 1))] == (9000, 1, 1, 1)
        assert last_rebuild().id == done["run_id"]
        assert refresh_if_stale() is None


def test_refresh_is_whole_once_a_week(app):
    """Merges re-point old lines without a report: a whole rebuild when the last is a week old."""
    from datetime import timedelta

    from plugins.branch_monitor.aggregates.service import refresh_if_stale
    from plugins.branch_monitor.models import MonRun
    from portal.toolkit import db

    with app.app_context():
        _fresh()
        import_csv(report_csv(date(2010, 9, 6), "B009", [("AGGR2", 9000)]), "b009-0906.csv")
        assert refresh_if_stale()["from"] == date(2010, 9, 1)
        for run in db.session.execute(db.select(MonRun).where(MonRun.kind == "rebuild")).scalars():
            run.started_at -= timedelta(days=8)
        db.session.commit()
        import_csv(report_csv(date(2010, 9, 7), "B009", [("AGGR3", 9000)]), "b009-0907.csv")
        done = refresh_if_stale()
        assert (done["from"], done["to"]) == (None, None)


def test_cli_refresh(app):
    from plugins.branch_monitor.models import MonRun
    from portal.toolkit import db

    with app.app_context():
        _fresh()
        runner = app.test_cli_runner()
        out = runner.invoke(args=["portal", "branch_monitor", "refresh", "--if-stale"])
        assert out.exit_code == 0, out.output
        assert "nothing to do" in out.output

        import_csv(report_csv(date(2010, 10, 5), "B010", [("AGGK", 4000)]), "b010.csv")
        out = runner.invoke(args=["portal", "branch_monitor", "refresh", "--if-stale"])
        assert out.exit_code == 0, out.output
        assert out.output.startswith("Rebuilt ") and "(2010-10-01 to the last day)" in out.output

        out = runner.invoke(args=["portal", "branch_monitor", "refresh", "--from", "2010-10-05", "--to", "2010-10-05"])
        assert out.exit_code == 0, out.output
        assert "(2010-10-01 to 2010-10-31)" in out.output
        assert "1 branch-months" in out.output
        run = db.session.execute(db.select(MonRun).order_by(MonRun.id.desc()).limit(1)).scalar_one()
        assert run.detail["from"] == "2010-10-01" and run.status == "done"
        assert day_rows()[(branch_id("B010"), date(2010, 10, 5))] == (4000, 1, 1, 1)

        for args, message in ((["--from", "2010-02-30"], "not a date"),
                              (["--from", "2010-03-01", "--to", "2010-02-01"], "is after"),
                              (["--if-stale", "--from", "2010-03-01"], "leave out"),
                              (["--to", "9999-12-31"], "outside"), (["--from", "1999-12-31"], "outside")):
            out = runner.invoke(args=["portal", "branch_monitor", "refresh", *args])
            assert out.exit_code == 2 and message in out.output, out.output


def test_job_registered(app):
    from plugins.branch_monitor.aggregates.jobs import rebuild_job
    from portal.jobs.queue import job_specs

    with app.app_context():
        spec = job_specs(app)["bm.aggregates.rebuild"]
        assert spec.schedule == {"minute": "30", "hour": "2", "tz": "Asia/Seoul"}
        _fresh()
        assert rebuild_job() == {"fresh": True}
        import_csv(report_csv(date(2010, 11, 2), "B011", [("AGGJ", 100)]), "b011.csv")
        done = rebuild_job()
        assert done["days"] > 0 and done["from"] == "2010-11-01" and isinstance(done["run_id"], int)


def test_rebuild_refuses_days_out_of_bounds(app):
    import pytest

    from plugins.branch_monitor.aggregates.service import rebuild
    from plugins.branch_monitor.models import MonRun
    from portal.toolkit import db

    with app.app_context():
        runs = db.session.execute(db.select(db.func.count()).select_from(MonRun)).scalar()
        for start, end in ((None, date(9999, 12, 31)), (date(1, 1, 1), None), (date(2010, 3, 2), date(2010, 2, 1))):
            with pytest.raises(ValueError):
                rebuild(start, end)
        assert db.session.execute(db.select(db.func.count()).select_from(MonRun)).scalar() == runs
