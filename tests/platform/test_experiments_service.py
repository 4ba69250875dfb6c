"""Experiments on the seeded database: exact, seeded, stratified draws done once; the global control
group; outcomes and lift equal to statsmodels' on the same counts; frozen snapshots; DiD; the
send-time holdout policy, the segment fields, the suppression reason and the merge rule."""

from __future__ import annotations

import math
import random
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from statsmodels.stats import proportion as smp

from tests.conftest import scalar, sql

START, END = date(2026, 1, 1), date(2026, 10, 31)


def _ids(n: int | None = None) -> list[int]:
    rows = sql("SELECT id FROM customer WHERE pseudonymized_at IS NULL ORDER BY id")
    ids = [r[0] for r in rows]
    return ids[:n] if n else ids


def _new(ref: str = "c1", **kw):
    from portal.experiments import create_experiment

    args = {"seed": 42, "holdout_share": 0.1}
    args.update(kw)
    return create_experiment("cem_channels", ref, **args)


def _arms(exp) -> dict[int, str]:
    from portal.experiments.models import ExperimentAssignment
    from portal.extensions import db

    return dict(db.session.execute(select(ExperimentAssignment.customer_id, ExperimentAssignment.arm)
                                   .where(ExperimentAssignment.experiment_id == exp.id)).all())


# -- creation and the draw --------------------------------------------------------------------------


@pytest.mark.parametrize("kw,field", [
    ({"holdout_share": 0.6}, "holdout_share"), ({"holdout_share": -0.1}, "holdout_share"),
    ({"holdout_share": float("nan")}, "holdout_share"), ({"holdout_share": "abc"}, "holdout_share"),
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"seed": True}, "seed"),
    ({"strata": ["nope"]}, "strata"), ({"strata": ["branch", "branch"]}, "strata"),
])
def test_create_refuses_bad_values_with_a_clear_message(app, kw, field):
    from portal.experiments import ExperimentError
    from portal.experiments.models import Experiment
    from portal.extensions import db

    with pytest.raises(ExperimentError) as err:
        _new(**kw)
    assert field in err.value.errors and err.value.status == 422
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 0


def test_holdout_share_message_names_the_range(app):
    from portal.experiments import ExperimentError

    with pytest.raises(ExperimentError) as err:
        _new(holdout_share=0.6)
    assert "0–50" in err.value.errors["holdout_share"]


def test_one_experiment_per_owner_object(app):
    from portal.experiments import ExperimentError, get_experiment

    exp = _new()
    with pytest.raises(ExperimentError) as err:
        _new()
    assert err.value.status == 409
    assert get_experiment("cem_channels", "c1").id == exp.id


def test_draw_exact_reproducible_order_free_and_once(app):
    from portal.experiments import draw
    from portal.extensions import db

    ids = _ids()
    n = len(ids)
    a = _new("a", seed=42, holdout_share=0.1)
    counts = draw(a, ids)
    db.session.commit()
    assert counts == {"treatment": n - round(0.1 * n), "holdout": round(0.1 * n), "control": 0}
    shuffled = ids[:]
    random.Random(5).shuffle(shuffled)
    b = _new("b", seed=42, holdout_share=0.1)
    draw(b, shuffled + shuffled[:10])  # other order, duplicates: the same assignment
    assert _arms(a) == _arms(b)
    c = _new("c", seed=43, holdout_share=0.1)
    draw(c, ids)
    assert _arms(c) != _arms(a)
    # Never re-drawn: the stored counts come back, nothing is written.
    before = _arms(a)
    assert draw(a, ids[:50]) == counts
    assert _arms(a) == before and a.status == "drawn"


@pytest.mark.parametrize("share,n", [(0.1, 10_000), (0.125, 4), (0.5, 3), (0.05, 10), (0.25, 2), (0.0, 7)])
def test_allocation_total_is_round_half_up(share, n):
    import numpy as np

    from portal.experiments.assignment import allocate

    quota = allocate({"x": n}, share, np.random.default_rng(1))
    assert quota["x"] == math.floor(share * n + 0.5)


def test_stratified_draw_is_exact_per_stratum_and_in_total(app):
    from portal.experiments import draw
    from portal.experiments.models import ExperimentAssignment
    from portal.extensions import db

    ids = _ids()
    exp = _new("s", seed=7, holdout_share=0.15, strata=["branch"])
    counts = draw(exp, ids)
    assert counts["holdout"] == math.floor(0.15 * len(ids) + 0.5)
    rows = db.session.execute(select(ExperimentAssignment.stratum, ExperimentAssignment.arm, func.count())
                              .where(ExperimentAssignment.experiment_id == exp.id)
                              .group_by(ExperimentAssignment.stratum, ExperimentAssignment.arm)).all()
    per: dict[str, dict[str, int]] = {}
    for stratum, arm, k in rows:
        per.setdefault(stratum, {"treatment": 0, "holdout": 0})[arm] = k
    assert len(per) > 5
    branch_sizes = dict(sql("SELECT COALESCE(CAST(branch_id AS VARCHAR(20)), '-'), count(*) FROM customer "
                            "WHERE pseudonymized_at IS NULL GROUP BY branch_id"))
    for stratum, arms in per.items():
        n_s = arms["treatment"] + arms["holdout"]
        assert n_s == branch_sizes[stratum]
        assert math.floor(0.15 * n_s) <= arms["holdout"] <= math.ceil(0.15 * n_s)
    assert sum(a["holdout"] for a in per.values()) == counts["holdout"]


def test_draw_refuses_an_empty_or_bad_set(app):
    from portal.experiments import ExperimentError, draw

    exp = _new()
    with pytest.raises(ExperimentError) as err:
        draw(exp, [])
    assert "eligible_customer_ids" in err.value.errors
    with pytest.raises(ExperimentError):
        draw(exp, [1, "x"])
    with pytest.raises(ExperimentError):
        draw(exp, [10**9])  # no such customer
    assert exp.drawn_at is None


def test_contactable_uses_the_consent_service(app):
    from portal.contact import may_contact_many
    from portal.experiments import contactable

    ids = _ids()
    ok = contactable(ids, "email", "marketing")
    verdicts = may_contact_many(ids, "email", "marketing")
    expected = sorted(i for i, v in verdicts.items() if v.allowed or v.deferred_until is not None)
    assert ok == expected and 0 < len(ok) < len(ids)


# -- global control ----------------------------------------------------------------------------------


def test_global_control_is_stable_when_extended(app):
    from portal.experiments import ensure_global_control, in_global_control
    from portal.experiments.assignment import global_control_bucket
    from portal.extensions import db

    ids = _ids()
    assert ensure_global_control() == 0  # share 0 by default: switched off
    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.1
    added = ensure_global_control()
    db.session.commit()
    first = in_global_control(ids)
    assert added == len(first) and first == {i for i in ids if global_control_bucket(i) < 1000}
    assert 10 < len(first) < 80
    assert ensure_global_control() == 0  # idempotent
    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.2
    ensure_global_control()
    second = in_global_control(ids)
    assert first < second  # extended: every earlier member stays
    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.05
    ensure_global_control()
    assert in_global_control(ids) == second  # never shrunk
    other_salt = {i for i in ids if global_control_bucket(i, "another-company") < 1000}
    assert other_salt != first


def test_global_control_members_are_the_control_arm(app):
    from portal.experiments import draw, in_global_control

    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.1
    ids = _ids()
    exp = _new(use_global_control=True)
    counts = draw(exp, ids)
    gc = in_global_control(ids)
    arms = _arms(exp)
    assert {i for i, a in arms.items() if a == "control"} == gc
    assert counts["control"] == len(gc)
    assert counts["holdout"] == math.floor(0.1 * (len(ids) - len(gc)) + 0.5)


def test_bad_global_control_share_fails_at_start(template_db):
    from tests.conftest import make_app

    url, drop = template_db.clone()
    try:
        with pytest.raises(RuntimeError, match="PORTAL_GLOBAL_CONTROL_SHARE"):
            make_app(url, PORTAL_GLOBAL_CONTROL_SHARE=0.9)
    finally:
        drop()


# -- outcomes, lift, freeze ------------------------------------------------------------------------


def _expected(exp, start, end, category_id=None):
    """Per-arm (n, buyers, revenue per customer list) computed in Python from the raw rows."""
    cat = "AND category_id = :c" if category_id else ""
    spend = dict(sql(f"SELECT customer_id, SUM(amount) FROM sale_line WHERE sold_at >= :s AND sold_at <= :e {cat} "
                     "GROUP BY customer_id", s=start, e=end, c=category_id))
    out: dict[str, list[float]] = {"treatment": [], "holdout": [], "control": []}
    for cid, arm in _arms(exp).items():
        out[arm].append(float(spend.get(cid, 0)) if cid in spend else None)
    return out


def test_outcomes_and_lift_equal_statsmodels_on_the_same_counts(app):
    import numpy as np
    from scipy import stats as st

    from portal.experiments import draw, lift, outcomes

    exp = _new(holdout_share=0.3)
    draw(exp, _ids())
    res = outcomes(exp, start=START, end=END)
    exp_arms = _expected(exp, START, END)
    for arm in ("treatment", "holdout"):
        vals = exp_arms[arm]
        assert res.arms[arm].n == len(vals)
        assert res.arms[arm].converters == sum(v is not None for v in vals)
        assert res.arms[arm].revenue == pytest.approx(sum(v or 0 for v in vals))
    t, h = res.arms["treatment"], res.arms["holdout"]
    assert t.converters > 0 and h.converters > 0
    r = lift(exp, start=START, end=END)
    assert not r.frozen
    c = r.comparison
    lo, hi = smp.confint_proportions_2indep(t.converters, t.n, h.converters, h.n, method="newcomb")
    assert c["rate_ci"] == pytest.approx([lo, hi], rel=1e-12)
    assert c["rate_p"] == pytest.approx(smp.test_proportions_2indep(t.converters, t.n, h.converters, h.n,
                                                                    method="score").pvalue, rel=1e-12)
    tv = np.array([v or 0 for v in exp_arms["treatment"]])
    hv = np.array([v or 0 for v in exp_arms["holdout"]])
    ref = st.ttest_ind(tv, hv, equal_var=False)
    assert c["revenue_ci"] == pytest.approx(list(ref.confidence_interval()), rel=1e-7)
    assert c["revenue_p"] == pytest.approx(ref.pvalue, rel=1e-7)
    assert r.verdict in ("significant", "not_significant")


def test_category_window_and_no_conversions(app):
    from portal.experiments import ExperimentError, draw, lift, outcomes
    from portal.models import Category

    exp = _new()
    draw(exp, _ids())
    cat = app.extensions["sqlalchemy"].session.scalar(select(Category).order_by(Category.id))
    res = outcomes(exp, start=START, end=END, category_id=cat.id)
    exp_arms = _expected(exp, START, END, cat.id)
    assert res.category == cat.code
    assert res.arms["treatment"].converters == sum(v is not None for v in exp_arms["treatment"])
    empty = lift(exp, start=date(2030, 1, 1), end=date(2030, 1, 31))
    assert empty.verdict == "no_conversions_yet"
    import json

    json.dumps(empty.as_dict(), allow_nan=False)
    for bad in ({"start": END, "end": START}, {"start": "2026-01-01", "end": END},
                {"start": START, "end": END, "category_id": 10**6}, {"start": date(1990, 1, 1), "end": END}):
        with pytest.raises(ExperimentError):
            outcomes(exp, **bad)
    with pytest.raises(ExperimentError):
        lift(exp, start=START, end=END, against="everyone")


def test_lift_before_the_draw_is_a_conflict(app):
    from portal.experiments import ExperimentError, lift

    with pytest.raises(ExperimentError) as err:
        lift(_new(), start=START, end=END)
    assert err.value.status == 409


def test_frozen_snapshot_is_read_back_never_recomputed(app):
    from portal.experiments import draw, freeze, frozen_results, lift
    from portal.extensions import db

    exp = _new()
    ids = _ids()
    draw(exp, ids)
    frozen = freeze(exp, start=START, end=END)
    db.session.commit()
    assert frozen.frozen and exp.status == "frozen" and exp.frozen_at is not None
    assert frozen.versions["statsmodels"] == "0.15.0"
    # New sales in the window after the freeze: the snapshot does not move; an interim window does.
    holdout = [c for c, a in _arms(exp).items() if a == "holdout"]
    line = sql("SELECT branch_id, category_id FROM sale_line LIMIT 1")[0]
    from sqlalchemy import text

    for cid in holdout:
        db.session.execute(text("INSERT INTO sale_line (customer_id, branch_id, category_id, sold_at, quantity, "
                                "unit_price, amount) VALUES (:c, :b, :k, :d, 1, 5000000, 5000000)"),
                           {"c": cid, "b": line[0], "k": line[1], "d": date(2026, 5, 5)})
    db.session.commit()
    again = lift(exp, start=START, end=END)
    assert again.frozen and again.as_dict() == frozen.as_dict()
    assert freeze(exp, start=START, end=END).as_dict() == frozen.as_dict()
    assert [r.as_dict() for r in frozen_results(exp)] == [frozen.as_dict()]
    interim = lift(exp, start=START, end=date(2026, 10, 30))
    assert not interim.frozen
    assert interim.arms["holdout"]["converters"] == len(holdout)


# -- difference in differences ----------------------------------------------------------------------------


def test_did_on_the_database_equals_the_array_version(app):
    from portal.experiments import did
    from portal.experiments.stats import did_from_arrays
    from portal.extensions import db
    from portal.models import Customer, Partner

    group = scalar("SELECT MIN(group_id) FROM partner")
    treated = select(Customer.id).join(Partner, Partner.id == Customer.partner_id).where(Partner.group_id == group)
    t_ids = sorted(db.session.scalars(treated))
    c_ids = [i for i in _ids() if i not in set(t_ids)]
    pre, post = (date(2025, 11, 1), date(2026, 4, 30)), (date(2026, 5, 1), date(2026, 10, 31))
    res = did(treated=treated, control=c_ids, pre=pre, post=post)

    def bought(ids, w):
        got = {r[0] for r in sql("SELECT DISTINCT customer_id FROM sale_line WHERE sold_at >= :s AND sold_at <= :e",
                                 s=w[0], e=w[1])}
        return [1.0 if i in got else 0.0 for i in ids]

    ref = did_from_arrays(bought(t_ids, pre), bought(t_ids, post), bought(c_ids, pre), bought(c_ids, post))
    assert res.estimate == pytest.approx(ref.estimate)
    assert res.ci == pytest.approx(ref.ci) and res.n_treated == len(t_ids)
    from portal.experiments import ExperimentError

    with pytest.raises(ExperimentError):
        did(treated=t_ids, control=t_ids[:3], pre=pre, post=post)


# -- the holdout policy, segment fields, suppression, merge ---------------------------------------------


def _msg(i, cid, purpose="marketing", source="cem_channels", obj="c1"):
    return SimpleNamespace(id=i, customer_id=cid, purpose=purpose, source=source, source_object=obj)


def test_holdout_policy_holds_back_holdout_and_global_control_marketing(app):
    from portal.experiments import attach_source, draw, holdout_check

    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.1
    ids = _ids()
    exp = _new(use_global_control=True)
    draw(exp, ids)
    arms = _arms(exp)
    hold = next(c for c, a in arms.items() if a == "holdout")
    treat = next(c for c, a in arms.items() if a == "treatment")
    ctrl = next(c for c, a in arms.items() if a == "control")
    msgs = [_msg(1, hold), _msg(2, treat), _msg(3, ctrl), _msg(4, hold, purpose="service"),
            _msg(5, hold, obj="other-campaign"), _msg(6, ctrl, obj="no-experiment"), _msg(7, None)]
    verdicts = holdout_check(msgs, None)
    assert {k: v.reason for k, v in verdicts.items()} == {1: "holdout", 3: "global_control", 6: "global_control"}
    assert all(v.allowed is False for v in verdicts.values())
    # A programme's step sent as another add-on's campaign: attach it and its holdout is held back too.
    attach_source(exp, "prm_groups", "programme:9")
    assert holdout_check([_msg(8, hold, source="prm_groups", obj="programme:9")], None)[8].reason == "holdout"
    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.0
    assert 6 not in holdout_check(msgs, None)  # switched off: only experiments' own arms count


def test_holdout_policy_is_registered_with_the_messaging_hook(app):
    from portal.plugins import collect

    names = [p["name"] for p in collect("portal_message_policies")]
    assert "experiment.holdout" in names


def test_segment_fields_and_suppression_reason(app):
    from portal.experiments import draw, for_experiment
    from portal.experiments.policy import arm_condition, global_control_condition, suppression_condition
    from portal.extensions import db
    from portal.models import Customer

    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.1
    exp = _new(use_global_control=True)
    draw(exp, _ids())
    arms = _arms(exp)

    def ids_where(cond):
        return set(db.session.scalars(select(Customer.id).where(cond)))

    assert ids_where(arm_condition("eq", f"{exp.id}:holdout")) == {c for c, a in arms.items() if a == "holdout"}
    assert ids_where(arm_condition("in", [f"{exp.id}:control", "junk"])) == {c for c, a in arms.items()
                                                                               if a == "control"}
    assert ids_where(arm_condition("eq", "junk")) == set()
    gc = ids_where(global_control_condition("eq", True))
    assert gc and not gc & ids_where(global_control_condition("eq", False))
    assert ids_where(suppression_condition("email")) == gc  # outside an experiment: the global control
    with for_experiment(exp):
        assert ids_where(suppression_condition("email")) == {c for c, a in arms.items() if a != "treatment"}
    from portal.analytics.segment_fields import segment_fields

    assert {"experiment.arm", "experiment.in_global_control"} <= set(segment_fields())


def test_extraction_preview_counts_the_holdout_reason(app):
    """The reason plugs into the core's extraction preview: inside ``for_experiment`` the holdout and
    control arms are counted under ``experiment.holdout`` and never included."""
    from portal.analytics.extraction import preview
    from portal.experiments import draw, for_experiment
    from portal.extensions import db
    from portal.models import User

    exp = _new(holdout_share=0.5)
    draw(exp, _ids())
    hq = db.session.scalar(select(User).where(User.email == "hq@example.com"))
    rules = {"all": []}
    plain = preview(hq, rules, "email", with_sample=False, with_any=True)
    assert plain.excluded_any.get("experiment.holdout", 0) == 0
    with for_experiment(exp):
        held = preview(hq, rules, "email", with_sample=False, with_any=True)
    holdout = sum(1 for a in _arms(exp).values() if a == "holdout")
    assert held.excluded_any["experiment.holdout"] == holdout
    assert held.included < plain.included


def test_merge_rule_survivor_keeps_its_arm_duplicate_marked_merged(app):
    from portal.experiments import draw, lift
    from portal.extensions import db
    from portal.models import Customer, User
    from portal.quality.service import merge_customers

    exp = _new(holdout_share=0.5)
    draw(exp, _ids())
    arms = _arms(exp)
    hold = next(c for c, a in arms.items() if a == "holdout")
    treat = next(c for c, a in arms.items() if a == "treatment")
    hq = db.session.scalar(select(User).where(User.email == "hq@example.com"))
    with app.test_request_context():
        merge_customers(hq, db.session.get(Customer, treat), db.session.get(Customer, hold))
        db.session.commit()
    rows = dict(sql("SELECT customer_id, merged FROM experiment_assignment WHERE experiment_id = :e "
                    "AND customer_id IN (:a, :b)", e=exp.id, a=hold, b=treat))
    assert bool(rows[hold]) is True and bool(rows[treat]) is False
    assert _arms(exp)[treat] == "treatment"
    r = lift(exp, start=START, end=END)
    assert r.merged_excluded == 1
    assert r.arms["holdout"]["n"] + r.arms["treatment"]["n"] == len(arms) - 1


def test_data_subject_export_lists_the_arms(app):
    from portal.customers.privacy import add_on_data
    from portal.experiments import draw, ensure_global_control, in_global_control
    from portal.extensions import db
    from portal.models import Customer

    ids = _ids()
    exp = _new()
    draw(exp, ids[:200])
    cid, arm = next(iter(_arms(exp).items()))
    data = add_on_data(db.session.get(Customer, cid))["experiments"]
    assert data == {"assignments": [{"owner": "cem_channels:c1", "arm": arm, "merged": False}],
                    "global_control_since": None}
    assert "experiments" not in add_on_data(db.session.get(Customer, ids[-1]))
    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.5
    ensure_global_control(ids[200:])
    member = sorted(in_global_control(ids[200:]))[0]
    assert add_on_data(db.session.get(Customer, member))["experiments"]["global_control_since"]


def test_streaming_and_restricted_paths_give_the_same_outcomes(app, monkeypatch):
    """The large-experiment path (PostgreSQL: covering index in customer order, merge join, no hash)
    and the small one (lines restricted to the experiment's customers) answer the same; on SQLite
    both statement shapes are compared directly."""
    from portal.experiments import draw, outcomes
    from portal.experiments import results as r
    from portal.extensions import db

    ids = _ids()
    exp = _new(holdout_share=0.25)
    draw(exp, ids[:300])
    small = outcomes(exp, start=START, end=END)
    monkeypatch.setattr(r, "STREAMING_FROM", 0)
    big = outcomes(exp, start=START, end=END)
    assert small.arms["treatment"].converters > 0 and big.merged_excluded == small.merged_excluded
    for arm in ("treatment", "holdout", "control"):
        b, s_ = big.arms[arm], small.arms[arm]
        assert (b.n, b.converters, b.revenue) == (s_.n, s_.converters, s_.revenue)
        assert b.revenue_sq == pytest.approx(s_.revenue_sq, rel=1e-12)
    for restrict in (True, False):
        row = db.session.execute(r.outcome_statement(exp.id, START, END, None, restrict=restrict)).one()
        assert row[:4] == (small.arms["treatment"].n, small.arms["treatment"].converters,
                           small.arms["treatment"].revenue, pytest.approx(small.arms["treatment"].revenue_sq))
    if db.engine.dialect.name == "postgresql":
        # The planner settings are reset after the statement: the rest of the transaction is untouched.
        assert db.session.execute(select(func.current_setting("enable_hashagg"))).scalar_one() == "on"


def test_large_set_path_draws_the_same_as_the_look_up_path(app, monkeypatch):
    """A large eligible set is read in one pass over the customers (and written by COPY on
    PostgreSQL): the same assignment as the chunked look-ups, erased customers still left out."""
    from portal.experiments import assignment as asg
    from portal.experiments import draw, in_global_control

    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.1
    erased = _ids()[5]
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text("UPDATE customer SET pseudonymized_at = CURRENT_TIMESTAMP WHERE id = :i"), {"i": erased})
    db.session.commit()
    ids = [r[0] for r in sql("SELECT id FROM customer ORDER BY id")]
    a = _new("small-path", seed=9, strata=["branch", "rfm_segment"], use_global_control=True)
    counts_a = draw(a, ids)
    monkeypatch.setattr(asg, "_SCAN_FROM", 0)
    b = _new("large-path", seed=9, strata=["branch", "rfm_segment"], use_global_control=True)
    counts_b = draw(b, ids)
    assert counts_a == counts_b and _arms(a) == _arms(b) and erased not in _arms(b)
    assert in_global_control(ids) == {c for c, arm in _arms(b).items() if arm == "control"}


def test_new_customers_join_the_global_control_group_by_bucket(app):
    from portal.events import fire
    from portal.experiments import in_global_control
    from portal.experiments.assignment import global_control_bucket

    ids = _ids()[:100]
    fire("portal_customers_created", customer_ids=ids, actor=None, source="import")
    assert in_global_control(ids) == set()  # switched off: nobody joins
    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.3
    fire("portal_customers_created", customer_ids=ids, actor=None, source="import")
    assert in_global_control(ids) == {i for i in ids if global_control_bucket(i) < 3000} != set()


def test_nightly_job_fills_the_global_control_group(app):
    from portal.experiments import in_global_control
    from portal.experiments.assignment import global_control_bucket
    from portal.extensions import db
    from portal.jobs import run_now

    ids = _ids()
    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.1
    db.session.commit()
    added = run_now("experiments.global_control")
    expected = {i for i in ids if global_control_bucket(i) < 1000}
    assert added == len(expected) and in_global_control(ids) == expected
    db.session.commit()
    assert run_now("experiments.global_control") == 0


def test_did_on_revenue_per_customer(app):
    from portal.experiments import did
    from portal.experiments.stats import did_from_arrays

    ids = _ids()
    t_ids, c_ids = ids[:150], ids[150:]
    pre, post = (date(2025, 11, 1), date(2026, 4, 30)), (date(2026, 5, 1), date(2026, 10, 31))

    def spend(group, w):
        got = dict(sql("SELECT customer_id, SUM(amount) FROM sale_line WHERE sold_at >= :s AND sold_at <= :e "
                       "GROUP BY customer_id", s=w[0], e=w[1]))
        return [float(got.get(i, 0)) for i in group]

    res = did(treated=t_ids, control=c_ids, pre=pre, post=post, metric="revenue")
    ref = did_from_arrays(spend(t_ids, pre), spend(t_ids, post), spend(c_ids, pre), spend(c_ids, post))
    assert res.estimate == pytest.approx(ref.estimate) and res.ci == pytest.approx(ref.ci)
    assert res.means["treated_post"] == pytest.approx(sum(spend(t_ids, post)) / len(t_ids))


def test_power_warning_in_words(app):
    from portal.experiments import ExperimentError, power_warning

    with app.test_request_context(headers={"Accept-Language": "en"}):
        from flask_babel import force_locale

        with force_locale("en"):
            text = power_warning(4500, 500, 0.10, 0.03)
            assert text == "Under-powered: the detectable effect is about +4.3 pp, the target +3.0 pp."
            assert power_warning(8841, 983, 0.10, 0.03) is None
            assert "cannot show any effect" in power_warning(1, 1, 0.10, 0.03)
        with force_locale("ko"):
            assert "검정력" in power_warning(4500, 500, 0.10, 0.03)
    for bad in ({"baseline_rate": 0}, {"target_mde": 0}, {"target_mde": float("nan")}):
        args = {"n_treatment": 100, "n_control": 100, "baseline_rate": 0.1, "target_mde": 0.03, **bad}
        with pytest.raises(ExperimentError):
            power_warning(**args)


def test_did_from_selects_equals_did_from_id_lists(app):
    """A SELECT of ids is measured with one semi-join per window (no list of ids sent as parameters):
    the same result as the chunked look-up of the same ids, for both metrics."""
    from portal.experiments import did
    from portal.extensions import db
    from portal.models import Customer, Partner

    group = scalar("SELECT MIN(group_id) FROM partner")
    base = select(Customer.id).join(Partner, Partner.id == Customer.partner_id)
    treated, control = base.where(Partner.group_id == group), base.where(Partner.group_id != group)
    t_ids, c_ids = list(db.session.scalars(treated)), list(db.session.scalars(control))
    pre, post = (date(2025, 11, 1), date(2026, 4, 30)), (date(2026, 5, 1), date(2026, 10, 31))
    for metric in ("purchase", "revenue"):
        by_select = did(treated=treated, control=control, pre=pre, post=post, metric=metric)
        by_list = did(treated=t_ids, control=c_ids, pre=pre, post=post, metric=metric)
        assert by_select.as_dict() == by_list.as_dict()
        assert by_select.n_treated == len(t_ids) and by_select.estimate is not None
