"""The demo's platform data: each issue-14 service doing real work on a first ``make run``.

Without it a first visitor found an empty outbox, inbox, task list, contact history and
experiments list. Everything here goes through the services' public functions (``portal.toolkit``
and the extraction service) — never raw inserts — so the rules (consent, the advertising law, the
idempotency keys, the send-time policies, scope) apply to the demo as to real data.

Deterministic: customers are picked from sorted ids with one seeded generator and every date is
relative to the demo's last sales day. Small and fixed-size (a few hundred rows whatever the
number of customers). Its cost is mostly the dispatcher's commit per message and loading
scipy/statsmodels for the experiment's result (see the README's demo paragraph for the times).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import Customer, OrgUnit, Partner, PartnerGroup, User
from .sender import demo_sender_contacts

SOURCE = "demo"  # the outbox source and experiment owner of everything made here
CONTACTS = 300  # customers with a logged call / visit / message
SERVICE_EVERY = 12  # one past-purchase service e-mail per this many recent buyers …
SERVICE_MAX = 80  # … at most this many
CAMPAIGN_MAX = 200  # customers in the e-mail campaign (the first consenting ones by id)
PAUSED_MAX = 25  # messages of the paused campaign


def load_platform_demo(end: date, echo: Callable[[str], None] = print, seed: int = 2026) -> None:
    """Contact history, messages (sent, suppressed, cancelled, expired, paused), notifications,
    pending approvals and a frozen experiment, as of the demo's last sales day ``end``."""
    rng = random.Random(f"{seed}:platform")
    users = {u.email: u for u in db.session.execute(select(User)).scalars()}
    owners = _owners()
    n = _contact_history(rng, end, owners, users)
    used = _used_target_list(users)
    db.session.commit()
    echo(f"contact history: {n} calls, visits and messages; target list used: {used} customers")
    past = _past_experiment(end)
    db.session.commit()
    if current_app.config.get("PORTAL_SMTP_URL"):
        # A real relay would carry the demo's e-mail to its fictitious customers' addresses.
        echo("messages: none (PORTAL_SMTP_URL is set: the demo sends no e-mail through a real relay)")
    else:
        with demo_sender_contacts():
            counts = _messages(rng, end)
        echo("messages: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    notes = _notifications(users, past)
    db.session.commit()
    echo(f"notifications: {notes}")


# -- helpers -----------------------------------------------------------------------------------

def _owners() -> dict[int, tuple[str | None, str | None]]:
    """customer id → (branch code, partner group code), for choosing who logged a contact."""
    rows = db.session.execute(
        select(Customer.id, OrgUnit.code, PartnerGroup.code)
        .outerjoin(OrgUnit, OrgUnit.id == Customer.branch_id)
        .outerjoin(Partner, Partner.id == Customer.partner_id)
        .outerjoin(PartnerGroup, PartnerGroup.id == Partner.group_id)
        .where(Customer.pseudonymized_at.is_(None)).order_by(Customer.id)).all()
    return {cid: (branch, group) for cid, branch, group in rows}


def _staff_for(owner: tuple[str | None, str | None], users: dict[str, User]) -> User | None:
    branch, group = owner
    email = {"B001": "store1@example.com", "B002": "store2@example.com"}.get(branch or "")
    if email is None:
        email = "leader1@example.com" if group == "G01" else "hq@example.com"
    return users.get(email)


def _kst(day: date, rng: random.Random) -> datetime:
    """A working-hours moment (10:00–18:00 KST) of ``day``, as naive UTC like the database."""
    return datetime.combine(day, time(1, 0)) + timedelta(minutes=rng.randint(0, 479))


# -- contact history -----------------------------------------------------------------------------

CALL_NOTES = ["신제품 안내 전화", "주문 상품 입고 안내", "세미나 참석 확인", "생일 축하 전화", "멤버십 혜택 안내"]
VISIT_NOTES = ["매장 방문 상담", "체험 행사 방문", "건강 상담 방문"]
KAKAO_NOTES = ["이벤트 안내 메시지", "재구매 안내 메시지"]


def _contact_history(rng: random.Random, end: date, owners: dict[int, tuple], users: dict[str, User]) -> int:
    """Calls, visits and KakaoTalk messages staff logged for a few hundred customers over the
    last four months (``record_contacts``: checked, then one insert per chunk)."""
    from ..toolkit import record_contacts

    with_phone = db.session.execute(select(Customer.id).where(Customer.phone.is_not(None), Customer.pseudonymized_at.is_(None))
                                    .order_by(Customer.id)).scalars().all()
    chosen = sorted(rng.sample(with_phone, min(CONTACTS, len(with_phone))))
    rows: list[dict[str, Any]] = []
    for cid in chosen:
        staff = _staff_for(owners.get(cid, (None, None)), users)
        for _ in range(rng.choice((1, 1, 2, 3))):
            day = end - timedelta(days=rng.randint(0, 120))
            kind = rng.random()
            if kind < 0.55:
                outcome = rng.choice(("answered", "answered", "no_answer", "left_message", "declined"))
                row = {"channel": "phone", "outcome": outcome, "note": rng.choice(CALL_NOTES)}
            elif kind < 0.8:
                row = {"channel": "phone", "outcome": "visited", "note": rng.choice(VISIT_NOTES)}
            else:
                row = {"channel": "kakao", "outcome": "sent", "note": rng.choice(KAKAO_NOTES)}
            rows.append({**row, "customer_id": cid, "purpose": rng.choice(("marketing", "service")),
                         "source": "staff", "actor_id": staff.id if staff else None, "at": _kst(day, rng)})
    return record_contacts(rows)


def _used_target_list(users: dict[str, User]) -> int:
    """The 강남점 staff's SMS list of their best customers, marked used: every member gets the
    contact row a real list gets (source ``extraction``) and its cool-down starts."""
    from ..analytics import extraction as ex

    staff = users.get("store1@example.com")
    if staff is None:
        return 0
    rules = {"all": [{"field": "branch", "op": "eq", "value": "B001"},
                     {"field": "total_spend", "op": "gte", "value": 300000}]}
    ext = ex.create(staff, rules, "sms", "강남점 우수 고객 문자 안내")
    ex.mark_used(staff, ext)
    return int(ext.included or 0)


# -- experiments and messages --------------------------------------------------------------------

def _email_consenting(at: datetime | None = None) -> list[int]:
    from ..toolkit import contactable

    ids = db.session.execute(select(Customer.id).where(Customer.email.is_not(None), Customer.pseudonymized_at.is_(None))
                             .order_by(Customer.id)).scalars().all()
    return contactable(ids, "email", "marketing", at=at)


def _past_experiment(end: date) -> Any:
    """Last autumn's e-mail campaign (sent 75 days before ``end``): a seeded 10 % holdout of its
    consenting audience, stratified by branch, measured over the 30 days after it and frozen."""
    from ..toolkit import create_experiment, draw, freeze

    sent_on = end - timedelta(days=75)
    eligible = _email_consenting(datetime.combine(sent_on, time(1, 0)))
    if len(eligible) < 20:
        return None
    exp = create_experiment(SOURCE, f"campaign:autumn-{sent_on:%Y%m%d}", seed=20261, holdout_share=0.1,
                            strata=["branch"])
    draw(exp, eligible)
    freeze(exp, start=sent_on + timedelta(days=1), end=sent_on + timedelta(days=30))
    return exp


def _messages(rng: random.Random, end: date) -> dict[str, int]:
    """Service e-mails after recent purchases, today's e-mail campaign (its experiment's holdout
    suppressed at send), one unsubscribe before the send (cancelled), a few expired reminders and a
    paused New Year campaign; then the dispatcher sends what is due into the local outbox."""
    from ..messaging.models import Message
    from ..toolkit import create_experiment, dispatch, draw, pause, queue_many, record_consent
    from ..toolkit import utcnow as now_utc

    now = now_utc()
    recent = db.session.execute(select(Customer.id, Customer.code).where(
        Customer.last_purchase_on >= end - timedelta(days=30), Customer.pseudonymized_at.is_(None))
        .order_by(Customer.id)).all()
    service = [{"channel": "email", "purpose": "service", "customer_id": cid, "source": SOURCE,
                "source_object": "receipts", "idempotency_key": f"demo:receipt:{cid}",
                "subject": "구매해 주셔서 감사합니다",
                "body": f"고객번호 {code}님, 최근 구매 내역이 적립되었습니다. 매장에서 영수증을 확인하실 수 있습니다."}
               for i, (cid, code) in enumerate(recent) if i % SERVICE_EVERY == 0][:SERVICE_MAX]
    expired = [{"channel": "email", "purpose": "service", "customer_id": cid, "source": SOURCE,
                "source_object": "event-reminder", "idempotency_key": f"demo:reminder:{cid}",
                "subject": "오늘 매장 행사 안내", "body": "오늘 18시까지 매장 체험 행사가 열립니다.",
                "not_before": now - timedelta(days=2), "expires_at": now - timedelta(days=1)}
               for cid, _code in recent[1:4]]
    audience = _email_consenting()[:CAMPAIGN_MAX]
    campaign, paused = [], []
    if len(audience) >= 20:
        ref = f"campaign:winter-{end:%Y%m%d}"
        exp = create_experiment(SOURCE, ref, seed=20262, holdout_share=0.1, strata=["branch"])
        draw(exp, audience)
        campaign = [{"channel": "email", "purpose": "marketing", "customer_id": cid, "source": SOURCE,
                     "source_object": ref, "step": "1", "idempotency_key": f"demo:{ref}:{cid}",
                     "subject": "겨울 건강식품 기획전", "body": "이번 주 건강식품 전 품목 10% 할인. 가까운 매장에서 만나 보세요."}
                    for cid in audience]
        paused = [{"channel": "email", "purpose": "marketing", "customer_id": cid, "source": SOURCE,
                   "source_object": "campaign:new-year", "idempotency_key": f"demo:new-year:{cid}",
                   "subject": "새해 감사 이벤트", "body": "새해를 맞아 전 고객께 포인트 두 배 적립 이벤트를 준비했습니다.",
                   "not_before": now + timedelta(hours=1)}
                  for cid in audience[-PAUSED_MAX:]]
    queue_many(service + expired + campaign + paused)
    if paused:
        pause(SOURCE, "campaign:new-year")
    if campaign:  # one recipient unsubscribed before the send: their queued e-mails are cancelled
        record_consent(campaign[len(campaign) // 2]["customer_id"], "email", "marketing", False, method="web",
                       source="unsubscribe_link", note="수신거부 링크")
    db.session.commit()
    for _ in range(20):  # the dispatcher, as the jobs consumer would run it: until nothing is due
        if not dispatch(limit=500)["claimed"]:
            break
    rows = db.session.execute(select(Message.status, func.count()).where(Message.source == SOURCE)
                              .group_by(Message.status)).all()
    return {status: count for status, count in rows}


# -- workflow and notifications ------------------------------------------------------------------

def _notifications(users: dict[str, User], past: Any) -> int:
    """A handful of notices for HQ, 강남점 staff and the 한빛 group leader with links to real
    objects — some already read."""
    from ..notify.models import Notification
    from ..notify.service import build_path, mark_read
    from ..toolkit import notify

    hq, store1, leader = (users.get(e) for e in ("hq@example.com", "store1@example.com", "leader1@example.com"))
    b001 = db.session.execute(select(OrgUnit).where(OrgUnit.code == "B001")).scalar_one_or_none()
    b003 = db.session.execute(select(OrgUnit).where(OrgUnit.code == "B003")).scalar_one_or_none()
    g01 = db.session.execute(select(PartnerGroup).where(PartnerGroup.code == "G01")).scalar_one_or_none()
    vip = None
    if b001 is not None:
        vip = db.session.execute(select(Customer).where(Customer.branch_id == b001.id, Customer.pseudonymized_at.is_(None))
                                 .order_by(Customer.total_spend.desc(), Customer.id).limit(1)).scalar_one_or_none()
    g01_customer = None
    if g01 is not None:
        g01_customer = db.session.execute(
            select(Customer).join(Partner, Partner.id == Customer.partner_id).where(Partner.group_id == g01.id)
            .order_by(Customer.total_spend.desc(), Customer.id).limit(1)).scalar_one_or_none()
    plan: list[tuple[User | None, Any, str, str | None, bool]] = [
        (hq, None, "겨울 건강식품 기획전 이메일이 발송되었습니다. 결과를 확인하세요.", "/manage/messages/?source=demo", False),
        (hq, b003, "일산점의 어제 판매일보가 아직 도착하지 않았습니다.", None, False),
        (hq, None, "가을 캠페인 실험 결과가 확정되었습니다.",
         build_path("experiments.detail", ident=past.id) if past is not None else None, True),
        (hq, None, "큰 포인트 조정 요청이 승인을 기다립니다.", "/tasks", False),
        (store1, vip, "우수 고객의 연락 요청이 있습니다. 이번 주 안에 연락해 주세요.", None, False),
        (store1, b001, "강남점 우수 고객 문자 대상 목록이 사용 처리되었습니다.", None, True),
        (store1, None, "새해 감사 이벤트 발송이 일시 중지되었습니다.", None, False),
        (leader, g01, "한빛 그룹의 이번 달 실적 보고서가 준비되었습니다.", None, False),
        (leader, g01_customer, "그룹 고객의 재구매 상담 요청이 있습니다.", None, False),
        (leader, None, "파트너 포털 점검 안내: 일요일 02:00–04:00", None, True),
    ]
    made = 0
    for index, (user, obj, text, url, read) in enumerate(plan):
        if user is None:
            continue
        key = f"demo:notice:{index}"
        made += notify([user], "portal.notice", obj, text, url=url, dedupe_key=key)
        if read:
            ids = db.session.execute(select(Notification.id).where(Notification.user_id == user.id,
                                                                   Notification.dedupe_key == key)).scalars().all()
            mark_read(user.id, ids)
    return made
