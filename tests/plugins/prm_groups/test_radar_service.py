"""The weak-category radar's service: PG-1 (exact binomial limits, alarm / alert / no flag), PG-2
(under 30 active customers: insufficient, never flagged), the window, skipped categories, ranking."""

from __future__ import annotations

from datetime import date

import pytest

from tests.plugins.prm_groups.radar_fixtures import END, build_groups

PEERS = ["RB2", "RB3", "RB4", "RB5"]


@pytest.fixture
def radar_data(app):
    with app.app_context():
        build_groups({"RB1": (1000, 100), "RB2": (1000, 200), "RB3": (1000, 200), "RB4": (1000, 200),
                      "RB5": (1000, 200), "RY": (1000, 180), "RZ": (1000, 170), "RT": (25, 2)})
    return app


def test_pg1_alarm_with_exact_limits(radar_data):
    from plugins.prm_groups.radar.service import compute

    with radar_data.app_context():
        res = compute(end=END, months=12, groups=["RB1", *PEERS])
        cell = res.cell("RB1", "health")
        assert (cell.n, cell.buyers) == (1000, 100)
        assert cell.rate == pytest.approx(0.100)
        assert cell.benchmark == pytest.approx(0.200)
        assert cell.benchmark_n == 4000 and cell.benchmark_buyers == 800
        assert [round(x, 3) for x in cell.p95] == [0.176, 0.225]
        assert [round(x, 3) for x in cell.p998] == [0.162, 0.240]
        assert cell.flag == "alarm"
        assert res.gaps[0].group == "RB1" and res.gaps[0].category == "health"
        # the peers, each against the other four (700/4000 = 17.5 %), are within limits (or above)
        assert res.cell("RB2", "health").flag in (None, "high")
        assert {g["code"]: g["active"] for g in res.groups} == {c: 1000 for c in ["RB1", *PEERS]}
        # "home": everyone bought → no gap; rate 1.0 everywhere
        assert res.cell("RB1", "home").rate == 1.0 and res.cell("RB1", "home").flag is None
        # categories nobody in these groups bought (beauty …) are skipped
        assert [c["code"] for c in res.categories] == ["health", "home"]


@pytest.mark.parametrize(("group", "flag"), [("RY", None), ("RZ", "alert")])
def test_pg1_no_flag_at_180_and_alert_at_170(radar_data, group, flag):
    from plugins.prm_groups.radar.service import compute

    with radar_data.app_context():
        cell = compute(end=END, groups=[group, *PEERS]).cell(group, "health")
        assert cell.benchmark == pytest.approx(0.2)
        assert cell.flag == flag
        if flag == "alert":
            assert cell.rate < cell.p95[0] and cell.rate >= cell.p998[0]


def test_pg2_insufficient_never_flagged(radar_data):
    from plugins.prm_groups.radar.service import compute

    with radar_data.app_context():
        res = compute(end=END, groups=["RT", *PEERS])
        cell = res.cell("RT", "health")
        assert (cell.n, cell.buyers) == (25, 2)  # 8 % against 20 %: would be low, but n < 30
        assert cell.flag == "insufficient" and cell.p95 is None and cell.z is None
        assert all(g.group != "RT" for g in res.gaps)
        as_json = next(c for c in res.as_dict()["cells"] if c["group"] == "RT" and c["category"] == "health")
        assert as_json["flag"] == "insufficient" and as_json["limits"] == {"p95": None, "p998": None}


def test_window_excludes_lines_outside(radar_data):
    from plugins.prm_groups.radar.service import compute, window

    assert window(date(2026, 11, 30), 12) == (date(2025, 12, 1), date(2026, 11, 30))
    assert window(date(2026, 3, 31), 1) == (date(2026, 3, 1), date(2026, 3, 31))
    with radar_data.app_context():
        # 3 months ending before the in-window day: only END's second lines fall in (buyers // 2)
        res = compute(end=END, months=3, groups=["RB1", *PEERS])
        cell = res.cell("RB1", "health")
        assert (cell.n, cell.buyers) == (50, 50)
        # a window with no sales at all: no categories, no cells, groups with 0 active
        empty = compute(end=date(2020, 1, 31), months=1, groups=["RB1", *PEERS])
        assert empty.cells == [] and empty.gaps == [] and all(g["active"] == 0 for g in empty.groups)


def test_ranking_alarm_first_then_standardised_gap(radar_data):
    from plugins.prm_groups.radar.service import compute

    with radar_data.app_context():
        res = compute(end=END, groups=["RB1", "RZ", *PEERS])
        flags = [(g.group, g.flag) for g in res.gaps]
        assert flags[0] == ("RB1", "alarm")
        assert all(f in ("alarm", "alert") for _g, f in flags)
        order = [0 if f == "alarm" else 1 for _g, f in flags]
        assert order == sorted(order)


def test_bad_input_refused(radar_data):
    from plugins.prm_groups.radar.service import RadarError, compute

    with radar_data.app_context():
        with pytest.raises(RadarError) as exc:
            compute(end=END, groups=["NOPE"])
        assert "group" in exc.value.errors
        with pytest.raises(RadarError) as exc:
            compute(end=END, categories=["nope"])
        assert "category" in exc.value.errors
        with pytest.raises(RadarError):
            compute(end=END, months=0)


def test_default_groups_are_all_active_groups(radar_data):
    from plugins.prm_groups.radar.service import compute

    with radar_data.app_context():
        res = compute(end=END, categories=["health"])
        codes = [g["code"] for g in res.groups]
        assert "G01" in codes and "RB1" in codes
        assert {c.category for c in res.cells} == {"health"}


def test_customers_count_in_their_current_group(radar_data):
    """A customer who moved to another group counts, with their window purchases, in the new group
    (the group's customers as they are now); a customer without a distributor counts nowhere."""
    from sqlalchemy import select, update

    from plugins.prm_groups.radar.service import compute
    from portal.extensions import db
    from portal.toolkit import Customer, Partner, PartnerGroup

    with radar_data.app_context():
        rb2 = db.session.execute(select(Partner.id).join(PartnerGroup).where(PartnerGroup.code == "RB2")).scalar()
        db.session.execute(update(Customer).where(Customer.code == "RC-RB1-00000").values(partner_id=rb2))
        db.session.execute(update(Customer).where(Customer.code == "RC-RB1-00001").values(partner_id=None))
        db.session.commit()
        res = compute(end=END, groups=["RB1", *PEERS])
        assert (res.cell("RB1", "health").n, res.cell("RB1", "health").buyers) == (998, 98)
        assert (res.cell("RB2", "health").n, res.cell("RB2", "health").buyers) == (1001, 201)


def test_fast_and_plain_paths_agree(radar_data):
    """PostgreSQL's bit-mask statement and the plain GROUPING SETS statement give one answer (on
    SQLite both calls take the plain path); lines without a category make a customer active only."""
    from sqlalchemy import select, update

    from plugins.prm_groups.radar.service import counts, window
    from portal.extensions import db
    from portal.toolkit import Customer, SaleLine

    with radar_data.app_context():
        cid = db.session.execute(select(Customer.id).where(Customer.code == "RC-RB3-00999")).scalar()
        db.session.execute(update(SaleLine).where(SaleLine.customer_id == cid).values(category_id=None))
        db.session.commit()
        for months in (12, 3, 36):
            start, end = window(END, months)
            fast, plain = counts(start, end), counts(start, end, plain=True)
            assert fast == plain
            assert sum(fast[0].values()) > 0
        start, end = window(END, 12)
        ids = list(db.session.execute(select(Customer.partner_id).where(Customer.id == cid)).scalars())
        assert ids and counts(start, end)[0]  # the customer without categories is still active
