"""Demo data of the add-on (``portal_seed``, profile ``demo``): what ``make run`` shows from the
first visit (issue 16) — Amway Korea's case as a finished programme, and one waiting for leader1.

Made through the add-on's own services, so the rules apply to the demo as to people:

- **Finished** — "한빛 그룹 건강식품 리더 서신·세미나": the radar's G01 × 건강식품 gap (the demo data
  makes G01 weak in health food). hq@ drafts an e-mail in the voice of G01's top leader; leader1@
  approves that exact revision; hq@ starts it two months before the demo's last sales day (a 30 %
  randomised holdout among the eligible, stratified by distributor); the e-mail goes out as a
  ``cem_channels`` campaign, sent into the local outbox (``cem_demo_send_in_the_past``); the
  treatment is invited to a three-session seminar series at 강남점, registers, is checked in; a
  real effect — a share of the treatment, and most attendees, bought health food within the
  measurement window — enters as 강남점's re-filed daily report through the core sales importer,
  so the lift is measured from imported sale lines, identically for the holdout; the run ends,
  HQ closes it with the final, frozen result.
- **Waiting** — "한빛 그룹 겨울 면역 건강 프로그램 (2차)": drafted and sent to leader1@ for approval.

Idempotent (looked up by name first); deterministic (dates follow the demo's last sales day,
choices are hashes of ids). Nothing is sent through a real relay: with ``PORTAL_SMTP_URL`` set the
finished programme is left out.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, select

from portal.toolkit import (
    Category,
    Customer,
    ExperimentAssignment,
    Partner,
    PartnerGroup,
    Product,
    SaleLine,
    User,
    current_revision,
    db,
    demo_backdate_history,
    demo_backdate_messages,
    demo_refile_report,
    demo_sender_contacts,
    dispatch,
    plugin_hook,
    system_transition,
)

from .models import PrmProgramme, PrmStep
from .seminar_models import REGISTERED, PrmInvitation, PrmRegistration, PrmSession
from .workflow import TYPE_NAME

FINISHED = "한빛 그룹 건강식품 리더 서신·세미나"
WAITING = "한빛 그룹 겨울 면역 건강 프로그램 (2차)"
GROUP, CATEGORY, VENUE = "G01", "health", "B001"
DRAW_SEED = 20261207
HOLDOUT_SHARE = 0.3
#: Share (per mille) of the treatment's non-buyers who bought health food because of the programme.
EFFECT_PER_MILLE = 90
#: Share (per mille) of the invited who registered for a session, and of registrants who came.
REGISTER_PER_MILLE, ATTEND_PER_MILLE, NO_SHOW_PER_MILLE = 180, 780, 150


def seed(profile: str) -> None:
    """``portal_seed``: nothing for ``default``; the two demo programmes for ``demo``. Commits."""
    if profile != "demo":
        return
    hq, leader = _user("hq@example.com"), _user("leader1@example.com")
    group = db.session.execute(select(PartnerGroup).where(PartnerGroup.code == GROUP)).scalar_one_or_none()
    if hq is None or leader is None or group is None or _category() is None:
        return  # a demo without its accounts or catalogue: nothing to run a programme with
    end = _demo_end()
    with demo_sender_contacts():
        if not current_app.config.get("PORTAL_SMTP_URL"):
            _finished(hq, leader, group, end)
        _waiting(hq, group, end)


# -- helpers ---------------------------------------------------------------------------------------


def _user(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def _category() -> Category | None:
    return db.session.execute(select(Category).where(Category.code == CATEGORY)).scalar_one_or_none()


def _programme(name: str) -> PrmProgramme | None:
    return db.session.execute(select(PrmProgramme).where(PrmProgramme.name == name)).scalar_one_or_none()


def _demo_end() -> date:
    """The demo data's last sale day (yesterday when ``make run`` loaded it), else yesterday."""
    last = db.session.execute(select(func.max(SaleLine.sold_at))).scalar_one_or_none()
    return last if last is not None else date.today() - timedelta(days=1)


def _kst(day: date, hour: int, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` Korean time, as naive UTC like the database."""
    return datetime.combine(day, time(hour, minute)) - timedelta(hours=9)


def _top_leader(group: PartnerGroup) -> str:
    name = db.session.execute(select(Partner.name).where(Partner.group_id == group.id, Partner.sponsor_id.is_(None))
                              .order_by(Partner.id).limit(1)).scalar_one_or_none()
    return name or group.name


def _letter(signer: str, season: str) -> dict[str, Any]:
    """The leader-voiced e-mail (the company sends it; the leader signs)."""
    return {"signer": signer, "email": {
        "subject": f"{{{{ customer.name }}}}님께, {signer} 리더가 전하는 {season} 건강 이야기",
        "body": (f"{{{{ customer.name }}}}님, 안녕하세요. 한빛 그룹의 {signer}입니다.\n\n"
                 "요즘 가족의 건강을 챙기시느라 바쁘시지요. 저도 매일 아침 챙기는 건강식품 이야기를 "
                 "함께 나누고 싶어 편지를 드립니다. 강남점에서 여는 건강식품 세미나에서 "
                 "제품을 고르는 법과 꾸준히 챙기는 요령을 직접 들려드리겠습니다.\n\n"
                 "세미나 초대장은 곧 따로 보내드리겠습니다. 늘 함께해 주셔서 감사합니다.")},
        "dm": {"body": (f"{{{{ customer.name }}}}님께\n\n한빛 그룹의 {signer}입니다. 가족의 건강을 함께 생각하는 "
                        "마음으로 이 편지를 씁니다. 강남점 건강식품 세미나에서 제가 매일 챙기는 건강 습관을 "
                        "직접 들려드리고 싶습니다. 곧 초대장을 보내드리겠습니다.")}}


def _sessions(first: date) -> list[dict[str, Any]]:
    titles = ("1회차: 건강식품, 무엇을 어떻게 고를까", "2회차: 가족 맞춤 영양 설계", "3회차: 꾸준함의 비결 — 리더 토크")
    return [{"title": t, "starts_at": datetime.combine(first + timedelta(days=7 * i), time(19, 0)).isoformat(),
             "ends_at": datetime.combine(first + timedelta(days=7 * i), time(21, 0)).isoformat(),
             "venue_branch": VENUE, "address": "서울특별시 강남구 테헤란로 1, 강남점 세미나실", "capacity": 30}
            for i, t in enumerate(titles)]


def _draft(name: str, group: PartnerGroup, run: tuple[date, date], measure: tuple[date, date],
           baseline: tuple[date, date], sessions_from: date, season: str) -> dict[str, Any]:
    return {
        "name": name, "group": group.code, "category": CATEGORY, "objective_metric": "category_purchase_rate",
        "baseline_window": {"start": baseline[0].isoformat(), "end": baseline[1].isoformat()},
        "run_window": {"start": run[0].isoformat(), "end": run[1].isoformat()},
        "measurement_window": {"start": measure[0].isoformat(), "end": measure[1].isoformat()},
        "design": ["holdout", "did_vs_groups"], "holdout_share": HOLDOUT_SHARE, "seed": DRAW_SEED,
        "budget": 3_000_000, "target_mde": 0.1,
        "objective": "건강식품 구매율을 다른 그룹 수준으로 — 리더의 편지와 세미나 시리즈로 신뢰를 쌓는다.",
        "steps": [
            {"kind": "message", "title": "리더 서신 (이메일·DM)", "channels": ["email", "dm"], "rules": None, "offset_days": 0,
             "content": _letter(_top_leader(group), season)},
            {"kind": "seminar_series", "title": "건강식품 세미나 시리즈", "rules": None, "offset_days": 14,
             "completion_min": 2},
        ],
        "sessions": _sessions(sessions_from),
    }


# -- the finished programme -------------------------------------------------------------------------


def _finished(hq: User, leader: User, group: PartnerGroup, end: date) -> None:
    from .programmes import ProgrammeError
    from .programmes.service import create, fire

    if _programme(FINISHED) is not None:
        return
    measure = (end - timedelta(days=59), end)
    run = (measure[0], end - timedelta(days=30))
    baseline = (run[0] - timedelta(days=60), run[0] - timedelta(days=1))
    created = _kst(run[0] - timedelta(days=10), 10)
    try:
        programme = create(hq, _draft(FINISHED, group, run, measure, baseline, run[0] + timedelta(days=14), "봄"),
                           now=created)
        fire(programme, "submit", hq, "리더님 목소리로 쓴 편지입니다. 검토 부탁드립니다.")
        fire(programme, "approve", leader, "제 이름으로 나가는 편지, 이대로 좋습니다.", revision=current_revision(programme))
        fire(programme, "start", hq)
    except ProgrammeError as exc:
        db.session.rollback()
        current_app.logger.warning("prm_groups demo: the finished programme could not start: %s", exc.errors)
        return
    db.session.commit()
    sent = _send_letters(programme, _kst(run[0], 10))
    series = next(s for s in programme.steps if s.kind == "seminar_series")
    _invite_register_attend(programme, series, hq, _kst(run[0] + timedelta(days=series.offset_days), 10, 15))
    _import_effect(programme, measure)
    programme = db.session.get(PrmProgramme, programme.id)
    system_transition(programme, "run_ended", "운영 기간 종료")
    fire(programme, "close", hq, "측정 기간 종료, 최종 결과 확정.")
    _backdate(programme, created, run, end)
    db.session.commit()
    current_app.logger.info("prm_groups demo: finished programme %s (letters sent: %s)", programme.id, sent)


def _send_letters(programme: PrmProgramme, at: datetime) -> bool:
    """Each message step's campaign sent at ``at`` as if it had happened then (cem_channels' demo hook)."""
    from .programmes.launch import step_origins

    sent = False
    for step in programme.steps:
        if step.kind == "message":
            for origin in step_origins(programme, step):
                sent = bool(plugin_hook("cem_demo_send_in_the_past")(ref=origin, at=at)) or sent
    return sent


def _invite_register_attend(programme: PrmProgramme, series: PrmStep, hq: User, at: datetime) -> None:
    """Invitations (sent into the outbox, dated ``at``), registrations a few days before each
    session, attendance marked by hq@ the evening of each session — through the seminar services."""
    from .seminars.attendance import mark
    from .seminars.invitations import invite
    from .seminars.registration import register

    invite(programme, series, hq, now=at)
    db.session.commit()
    for _ in range(20):
        if not dispatch(limit=2000, channel="email")["claimed"]:
            break
    demo_backdate_messages("prm_groups", f"programme:{programme.id}", created_at=at, sent_at=at + timedelta(minutes=2),
                           contacts_after=at)
    sessions = list(db.session.execute(select(PrmSession).where(PrmSession.step_id == series.id)
                                       .order_by(PrmSession.position)).scalars())
    invited = list(db.session.execute(select(PrmInvitation).where(PrmInvitation.step_id == series.id)
                                      .order_by((PrmInvitation.id * 7919) % 1000, PrmInvitation.id)).scalars())
    invitations = invited[:max(min(3, len(invited)), len(invited) * REGISTER_PER_MILLE // 1000)]
    for inv in invitations:
        for n, session in enumerate(sessions):
            if n == 0 or (inv.id * 31 + n) % 10 < 7:  # most come back for the next session
                register(inv, session, now=session.starts_at - timedelta(days=3))
    db.session.flush()
    for session in sessions:
        regs = db.session.execute(select(PrmRegistration).where(PrmRegistration.session_id == session.id,
                                                                PrmRegistration.status == REGISTERED)
                                  .order_by(PrmRegistration.id)).scalars()
        for reg in regs:
            roll = (reg.id * 6271) % 1000
            value = "attended" if roll < ATTEND_PER_MILLE else "no_show" if roll < ATTEND_PER_MILLE + NO_SHOW_PER_MILLE \
                else None  # the rest stay "not marked"
            if value:
                mark(reg, value, hq, now=session.ends_at + timedelta(minutes=30))
    db.session.commit()


def _import_effect(programme: PrmProgramme, measure: tuple[date, date]) -> int:
    """The programme's real effect: a share of the treatment who had not bought health food in the
    measurement window, and the series' attendees, bought a health-food product at the second
    session at 강남점 — its daily report re-filed by store1@ through the core sales importer."""
    category = _category()
    product = db.session.execute(select(Product).where(Product.category_id == category.id)
                                 .order_by(Product.unit_price.desc(), Product.id).limit(1)).scalar_one_or_none()
    staff = _user("store1@example.com")
    if product is None or staff is None or programme.experiment_id is None:
        return 0
    bought = select(SaleLine.customer_id).where(SaleLine.category_id == category.id,
                                                SaleLine.sold_at >= measure[0], SaleLine.sold_at <= measure[1])
    a = ExperimentAssignment
    attended = select(PrmRegistration.customer_id).where(
        PrmRegistration.attendance == "attended",
        PrmRegistration.session_id.in_(select(PrmSession.id).where(PrmSession.programme_id == programme.id)))
    codes = list(db.session.execute(
        select(Customer.code).join(a, and_(a.customer_id == Customer.id, a.experiment_id == programme.experiment_id))
        .where(a.arm == "treatment", Customer.id.not_in(bought),
               ((Customer.id * 7919 + programme.id) % 1000 < EFFECT_PER_MILLE) | Customer.id.in_(attended))
        .order_by(Customer.id)).scalars())
    if not codes:
        return 0
    day = db.session.scalar(select(func.min(PrmSession.starts_at)).where(PrmSession.programme_id == programme.id,
                                                                         PrmSession.position == 2))
    day = (day + timedelta(hours=9)).date() if day else measure[0] + timedelta(days=21)
    result = demo_refile_report(VENUE, min(day, measure[1]), codes, product, staff)
    if result.status != "committed":
        current_app.logger.warning("prm_groups demo: the seminar report was not imported: %s", result.message)
        return 0
    return len(codes)


def _backdate(programme: PrmProgramme, created: datetime, run: tuple[date, date], end: date) -> None:
    """The programme's own times and its workflow history where they happened."""
    start = _kst(run[0], 9, 30)
    programme.created_at, programme.approved_at = created, created + timedelta(days=2)
    if programme.plan and programme.plan.get("frozen_at"):  # frozen when the leader approved
        programme.plan = {**programme.plan, "frozen_at": programme.approved_at.isoformat(timespec="seconds") + "Z"}
    programme.started_at = start
    demo_backdate_history(TYPE_NAME, programme.id, {
        "submit": created + timedelta(hours=2), "approve": created + timedelta(days=2), "start": start,
        "run_ended": _kst(run[1] + timedelta(days=1), 0, 10), "close": _kst(end, 17)})


# -- the programme waiting for leader1 ---------------------------------------------------------------


def _waiting(hq: User, group: PartnerGroup, end: date) -> None:
    from .programmes import ProgrammeError
    from .programmes.service import create, fire

    if _programme(WAITING) is not None:
        return
    run = (end + timedelta(days=15), end + timedelta(days=75))
    measure = (run[0], run[1] + timedelta(days=30))
    baseline = (run[0] - timedelta(days=365), run[0] - timedelta(days=1))
    try:
        programme = create(hq, _draft(WAITING, group, run, measure, baseline, run[0] + timedelta(days=14), "겨울"))
        fire(programme, "submit", hq, "2차 프로그램 편지입니다. 리더님 확인 부탁드립니다.")
    except ProgrammeError as exc:
        db.session.rollback()
        current_app.logger.warning("prm_groups demo: the waiting programme was not created: %s", exc.errors)
        return
    db.session.commit()
