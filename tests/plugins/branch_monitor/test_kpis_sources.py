"""Where the KPIs' less obvious figures come from: complaint dates (the core's flag, merges, the
install backfill), the monthly RFM snapshot and its up/down moves, knowledge_share's overdue action
items through its hook (present, then the add-on disabled → NULL, not 0), the nightly job and the
CLI command."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from tests.plugins.branch_monitor.kpis_fixtures import (
    MONTH,
    NOW,
    World,
    customer,
    kst,
    make_branches,
    march_world,
    score,
)


def _admin():
    from portal.toolkit import User, db

    return db.session.execute(select(User).where(User.email == "admin@example.com")).scalar_one()


def _rows(customer_id: int):
    from plugins.branch_monitor.models import MonComplaint
    from portal.toolkit import db

    return db.session.execute(select(MonComplaint).where(MonComplaint.customer_id == customer_id)
                              .order_by(MonComplaint.opened_at)).scalars().all()


def test_complaint_flag_opens_and_closes_a_row(app):
    from portal.customers.service import set_complaint
    from portal.toolkit import Customer, db

    w = World(branches=make_branches(["KC1"]))
    c = db.session.get(Customer, customer(w, "k1", "KC1"))
    set_complaint(_admin(), c, True, "late delivery")
    db.session.commit()
    (row,) = _rows(c.id)
    assert row.closed_at is None and row.branch_id == w.branches["KC1"]
    set_complaint(_admin(), c, True, "late delivery, called twice")  # the note only: still one open row
    db.session.commit()
    assert len(_rows(c.id)) == 1
    set_complaint(_admin(), c, False)
    db.session.commit()
    (row,) = _rows(c.id)
    assert row.closed_at is not None and row.closed_at >= row.opened_at
    set_complaint(_admin(), c, True, "again")
    db.session.commit()
    assert [r.closed_at is None for r in _rows(c.id)] == [False, True]


def test_merged_customer_keeps_the_older_open_complaint(app):
    """Both customers flagged: the survivor ends with one open row, opened at the older date, and
    the KPI counts one complaint, not two."""
    from plugins.branch_monitor.kpis.complaints import on_customer_changed
    from plugins.branch_monitor.kpis.service import compute_month, kpis_for
    from portal.quality.service import merge_customers
    from portal.toolkit import Customer, db

    w = World(branches=make_branches(["KM1"]))
    s_id, d_id = customer(w, "s", "KM1"), customer(w, "d", "KM1")
    survivor, duplicate = db.session.get(Customer, s_id), db.session.get(Customer, d_id)
    survivor.complaint = duplicate.complaint = True
    on_customer_changed(duplicate, {"complaint": (False, True)}, now=kst(2030, 2, 1))
    on_customer_changed(survivor, {"complaint": (False, True)}, now=kst(2030, 3, 1))
    on_customer_changed(duplicate, {"complaint": (True, False)}, now=kst(2030, 2, 10))  # an older, closed one
    on_customer_changed(duplicate, {"complaint": (False, True)}, now=kst(2030, 2, 15))
    db.session.commit()
    b = w.branches["KM1"]
    compute_month(MONTH, now=NOW)
    assert kpis_for([b], MONTH)[b]["complaints_open_14d"]["value"] == 2

    merge_customers(_admin(), survivor, duplicate)
    db.session.commit()
    rows = _rows(s_id)
    assert [(r.opened_at, r.closed_at is None) for r in rows] == [
        (kst(2030, 2, 1), False), (kst(2030, 2, 15), True)]
    assert _rows(d_id) == []
    compute_month(MONTH, now=NOW)
    assert kpis_for([b], MONTH)[b]["complaints_open_14d"]["value"] == 1


def test_backfill_dates_flags_from_the_audit_trail(app):
    from plugins.branch_monitor.kpis.complaints import backfill
    from plugins.branch_monitor.models import MonComplaint
    from portal.customers.service import set_complaint
    from portal.toolkit import AuditEvent, Customer, db

    w = World(branches=make_branches(["KB1"]))
    audited = db.session.get(Customer, customer(w, "a", "KB1"))
    set_complaint(_admin(), audited, True, "rude")
    plain = db.session.get(Customer, customer(w, "p", "KB1", created=datetime(2030, 1, 3)))
    plain.complaint = True  # flagged without an event (an old import): dated by updated_at
    db.session.flush()
    db.session.query(MonComplaint).delete()  # as before the add-on was installed
    db.session.commit()
    event_at = db.session.execute(select(AuditEvent.at).where(
        AuditEvent.action == "customer.complaint", AuditEvent.object_id == str(audited.id))).scalar_one()
    flagged = db.session.execute(select(Customer.id).where(Customer.complaint.is_(True))).scalars().all()
    assert backfill() == len(flagged)
    assert backfill() == 0  # a second run adds nothing
    assert [r.opened_at for r in _rows(audited.id)] == [event_at]
    assert [r.opened_at for r in _rows(plain.id)] == [plain.updated_at]


def test_rfm_snapshot_and_moves(app):
    from plugins.branch_monitor.kpis.rfm import snapshot_rfm
    from plugins.branch_monitor.kpis.service import compute_month, kpis_for
    from plugins.branch_monitor.models import MonRfmSnapshot
    from portal.toolkit import db

    w = World(branches=make_branches(["KR1"]))
    february = {"u1": "loyal", "u2": "need_attention", "u3": "at_risk", "u4": "new_customers", "u5": "lost"}
    march = {"u1": "champions", "u2": "at_risk", "u3": "cannot_lose", "u4": "loyal", "u5": "lost"}
    for key, seg in february.items():
        customer(w, key, "KR1")
        score(w, key, seg, 0.5)
    snapshot_rfm(date(2030, 2, 1))
    for key, seg in march.items():
        score(w, key, seg, 0.5)
    customer(w, "u6", "KR1")
    score(w, "u6", "champions", 0.9)  # scored for the first time: no move
    result = snapshot_rfm(MONTH)
    assert result["added"] >= 1 and result["shifted"] >= 5
    assert snapshot_rfm(MONTH)["shifted"] == 0  # a second run only re-reads
    row = db.session.get(MonRfmSnapshot, w.customers["u2"])
    assert (row.prev_month, row.prev_segment, row.month, row.segment) == (
        date(2030, 2, 1), "need_attention", MONTH, "at_risk")
    b = w.branches["KR1"]
    compute_month(MONTH, now=NOW)
    k = kpis_for([b], MONTH)[b]
    # Up: loyal → champions, new_customers → loyal; down: need_attention → at_risk; lateral:
    # at_risk → cannot_lose; unchanged: lost; u6 has no previous segment.
    assert (k["rfm_up"]["value"], k["rfm_up"]["denominator"]) == (2, 5)
    assert (k["rfm_down"]["value"], k["rfm_down"]["denominator"]) == (1, 5)
    # February's snapshot is gone: computing February leaves its RFM rows alone (none here).
    compute_month(date(2030, 2, 1), now=NOW)
    assert "rfm_up" not in kpis_for([b], date(2030, 2, 1)).get(b, {})
    # April has no snapshot yet either; March's rows stay when March is recomputed after April's snapshot.
    snapshot_rfm(date(2030, 4, 1))
    compute_month(MONTH, now=NOW)
    assert kpis_for([b], MONTH)[b]["rfm_up"]["value"] == 2


def test_ks_overdue_actions_present_then_absent(app):
    """knowledge_share active: its overdue items count per owner branch; disabled: NULL, and the
    care index goes on without that component."""
    from plugins.branch_monitor.kpis.service import compute_month, kpis_for
    from plugins.knowledge_share.models import KsActionItem, KsSession
    from portal.plugins_lifecycle import set_enabled
    from portal.toolkit import db

    w = march_world()
    one, two = w.branches["KX1"], w.branches["KX2"]
    session = KsSession(title="Monthly review", starts_at=datetime(2030, 3, 1, 1), ends_at=datetime(2030, 3, 1, 2),
                        uid="kpi-test-session")
    db.session.add(session)
    db.session.flush()
    for due, status in ((date(2030, 3, 20), "open"), (date(2030, 3, 31), "open"), (date(2030, 4, 1), "open"),
                        (date(2030, 3, 5), "done")):
        db.session.add(KsActionItem(session_id=session.id, title="follow up", owner_unit_id=one, due_date=due,
                                    status=status))
    db.session.commit()
    compute_month(MONTH, now=NOW)
    k = kpis_for([one, two], MONTH)
    # Due before 1 April and still open: two (the one due on 1 April is not overdue for March).
    assert k[one]["ks_overdue_actions"]["value"] == 2
    assert k[two]["ks_overdue_actions"]["value"] == 0
    comps = k[one]["care_index"]["detail"]["components"]["ks_overdue_actions"]
    assert (comps["value"], comps["company"], comps["score"]) == (2, round(2 / 3, 4), 0.0)

    set_enabled("knowledge_share", False)
    compute_month(MONTH, now=NOW)
    k = kpis_for([one, two], MONTH)
    assert k[one]["ks_overdue_actions"]["value"] is None
    assert k[two]["ks_overdue_actions"]["value"] is None
    assert k[one]["care_index"]["detail"]["components"]["ks_overdue_actions"]["score"] is None
    # The other components as in test_care_index_scored_against_the_company, weights 0.9 renormalised.
    assert k[one]["care_index"]["value"] == round((12.5 + 7.5 + 6.75 + 6.75 + 5 + 5) / 0.9, 1)


def test_nightly_job_and_cli(app):
    from plugins.branch_monitor.kpis.jobs import JOBS, nightly_kpis
    from plugins.branch_monitor.models import MonKpi, MonRfmSnapshot, MonRun
    from portal.toolkit import db

    w = march_world()
    db.session.commit()
    assert JOBS[0]["schedule"] == {"minute": "0", "hour": "3", "tz": "Asia/Seoul"}
    result = nightly_kpis("2030-04-01", now=NOW)
    assert set(result["months"]) == {"2030-03", "2030-04"}
    assert result["rfm_snapshot"]["month"] == "2030-03"
    run = db.session.execute(select(MonRun).where(MonRun.kind == "kpis").order_by(MonRun.id.desc())).scalars().first()
    assert run.status == "done" and run.rows == result["rows"] > 0
    assert db.session.get(MonRfmSnapshot, w.customers["c1"]).month == MONTH
    one = w.branches["KX1"]
    assert db.session.execute(select(MonKpi.value).where(
        MonKpi.branch_id == one, MonKpi.month == MONTH, MonKpi.metric == "care_index")).scalar_one() is not None
    # Not the first of a month: no new snapshot.
    assert "rfm_snapshot" not in nightly_kpis("2030-04-02", now=NOW + timedelta(days=1))

    runner = app.test_cli_runner()
    out = runner.invoke(args=["portal", "branch_monitor", "kpis", "--month", "2030-03"])
    assert out.exit_code == 0, out.output
    assert "2030-03" in out.output and "KPI rows written" in out.output
    bad = runner.invoke(args=["portal", "branch_monitor", "kpis", "--month", "2030-13"])
    assert bad.exit_code == 2 and "--month" in bad.output
