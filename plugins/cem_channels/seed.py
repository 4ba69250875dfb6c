"""Demo data of the add-on (``portal_seed``, profile ``demo``): what ``make run`` shows on the
campaign pages from the first visit (issue 15).

Made through the add-on's own services, so the rules apply to the demo as to a person: HQ's
banned terms for 건강식품, a registered caller number and an approved 알림톡 template; three Korean
message sets; a **finished** e-mail campaign created by hq@ and approved by reviewer@ (four-eyes),
launched about 40 days before the demo's last sales day with a 10 % holdout, its e-mails sent into
the local outbox, and a real effect: a share of the treatment customers bought the seminar's product
in the attribution window — the branches' corrected daily reports (판매일보) imported through the
core sales importer, so the lift is measured from imported sale lines, identically for the holdout —
then closed and frozen; and a **scheduled** campaign starting tomorrow at 10:00 KST.

Idempotent: every piece is looked up by its natural key first, so running the seed twice adds
nothing. Deterministic: dates follow the demo data's last sale day, choices are hashes of ids.
Nothing is sent through a real relay: with ``PORTAL_SMTP_URL`` set the campaigns are left out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from portal.toolkit import (
    Customer,
    OrgUnit,
    Product,
    SaleLine,
    User,
    current_revision,
    db,
    demo_refile_report,
    demo_sender_contacts,
    utcnow,
)

from .campaign_models import CemCampaign, CemCampaignRecipient
from .models import KakaoTemplate, SenderNumber
from .voice_models import CemBannedTerm, CemMessageSet

CATEGORY = "건강식품"
BANNED = [("치료", "질병의 치료 효능 표방 금지 (건강기능식품법 제18조)"),
          ("완치", "질병의 완치 표방 금지"),
          ("특효", "특효·만병통치 표현 금지"),
          ("예방", "질병의 예방 효능 표방 금지")]
SENDER = ("025550100", "본사 CRM팀 대표번호")
TEMPLATE = ("SEMINAR_REMIND_01", "세미나 참석 안내",
            "#{고객명}님, 신청하신 건강식품 세미나가 #{일시}에 열립니다. 참석 여부를 매장으로 알려 주세요.")
FINISHED = "건강식품 세미나 초대 (이메일)"
SCHEDULED = "겨울 면역 세미나 초대 (이메일)"
LAUNCH_DAYS_BEFORE_END = 40
DRAW_SEED = 20261015
#: Share (in 1/1000) of the treatment who bought the seminar's product because of the campaign.
EFFECT_PER_MILLE = 150
#: The seminar: three days after the launch at 강남점, where its guests bought the gift set.
SEMINAR_AFTER_DAYS = 3
SEMINAR_BRANCH = "B001"


def seed(profile: str) -> None:
    """``portal_seed``: nothing for ``default`` (an operator enters their own terms and numbers);
    the lived-in demo for ``demo``. Commits its own pieces (the dispatcher and the importer do)."""
    if profile != "demo":
        return
    _channel_settings()
    hq, reviewer = _user("hq@example.com"), _user("reviewer@example.com")
    if hq is None or reviewer is None:
        return  # a demo without its accounts: nothing to compose with
    end = _demo_end()
    seminar, winter = _message_sets(hq, end)
    db.session.commit()
    if current_app.config.get("PORTAL_SMTP_URL"):
        return  # a real relay would carry the demo's e-mails to fictitious addresses
    with demo_sender_contacts():
        _finished_campaign(hq, reviewer, seminar, end)
        _scheduled_campaign(hq, reviewer, winter)


# -- channel settings ------------------------------------------------------------------------------

def _channel_settings() -> None:
    have = set(db.session.execute(select(CemBannedTerm.term).where(CemBannedTerm.category == CATEGORY)).scalars())
    db.session.add_all([CemBannedTerm(category=CATEGORY, term=t, note=n) for t, n in BANNED if t not in have])
    if db.session.execute(select(SenderNumber.id).where(SenderNumber.number == SENDER[0])).first() is None:
        db.session.add(SenderNumber(number=SENDER[0], label=SENDER[1], verified_at=utcnow()))
    if db.session.execute(select(KakaoTemplate.id).where(KakaoTemplate.code == TEMPLATE[0])).first() is None:
        db.session.add(KakaoTemplate(code=TEMPLATE[0], name=TEMPLATE[1], body=TEMPLATE[2], approved_at=utcnow()))
    db.session.flush()


def _user(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def _demo_end() -> date:
    """The demo data's last sale day (yesterday when ``make run`` loaded it), else yesterday."""
    last = db.session.execute(select(func.max(SaleLine.sold_at))).scalar_one_or_none()
    return last if last is not None else date.today() - timedelta(days=1)


def _launch_at(end: date) -> datetime:
    """10:00 KST on the launch day, as naive UTC like the database."""
    return datetime.combine(end - timedelta(days=LAUNCH_DAYS_BEFORE_END), time(1, 0))


# -- message sets ------------------------------------------------------------------------------------

def _seminar_set(name: str, offer: str, price: int, start: date, until: date, place: str) -> dict[str, Any]:
    return {
        "name": name, "category": CATEGORY,
        "master": {"offer": offer, "price": price, "valid_from": start.isoformat(), "valid_until": until.isoformat(),
                   "cta": "세미나 신청하기", "cta_url": "https://example.com/seminar",
                   "brand_header": "파트너포털 건강 아카데미", "brand_footer": f"장소: {place}"},
        "renditions": {
            "email": {"subject": "{{ offer }} — {{ valid_from_ko }} 개최",
                      "body": ("고객님, {{ brand_header }}에서 {{ offer }}에 초대합니다.\n"
                               "일시: {{ valid_from_ko }}부터 {{ valid_until_ko }}까지\n"
                               "참가 고객께 세미나 전용 선물세트를 {{ price }}에 드립니다.\n{{ brand_footer }}"),
                      "html": ("<h1>{{ offer }}</h1><p>고객님, {{ brand_header }}에서 초대합니다.</p>"
                               "<p>일시: {{ valid_from_ko }} ~ {{ valid_until_ko }}<br>"
                               "참가 고객 전용 선물세트 <strong>{{ price }}</strong></p>"
                               "<p><a href=\"{{ cta_url }}\">{{ cta }}</a></p><p>{{ brand_footer }}</p>")},
            "sms": {"body": "{{ offer }} {{ valid_from_ko }} 개최. 참가 고객 선물세트 {{ price_krw }}. 매장 문의"},
            "kakao": {"body": ("{{ offer }}\n{{ valid_from_ko }}~{{ valid_until_ko }}\n"
                               "참가 고객 전용 선물세트 {{ price }}\n{{ cta }}: {{ cta_url }}")},
        },
    }


def _message_sets(hq: User, end: date) -> tuple[CemMessageSet, CemMessageSet]:
    """Three HQ sets (shared with every composer); created through the one-voice store."""
    from .voice import store

    launch_day = end - timedelta(days=LAUNCH_DAYS_BEFORE_END)
    tomorrow = end + timedelta(days=2)  # the demo's end is yesterday: the day after today
    wanted = [
        _seminar_set("건강식품 세미나 초대", "건강식품 세미나", 39000, launch_day + timedelta(days=SEMINAR_AFTER_DAYS),
                     launch_day + timedelta(days=13), "강남점 세미나실"),
        _seminar_set("겨울 면역 세미나 초대", "겨울 면역 세미나", 45000, tomorrow + timedelta(days=3),
                     tomorrow + timedelta(days=16), "각 지점 상담실"),
        {"name": "구매 감사 인사", "category": CATEGORY,
         "master": {"offer": "구매 감사 인사", "cta": "매장 안내 보기", "cta_url": "https://example.com/stores"},
         "renditions": {"kakao": {"body": "{{ customer.name }}님, 구매해 주셔서 감사합니다. {{ cta }}: {{ cta_url }}"},
                        "push": {"subject": "구매 감사", "body": "{{ customer.name }}님, 구매해 주셔서 감사합니다."}}},
    ]
    found = []
    for data in wanted:
        ms = db.session.execute(select(CemMessageSet).where(CemMessageSet.name == data["name"],
                                                            CemMessageSet.org_unit_id.is_(None),
                                                            CemMessageSet.partner_group_id.is_(None))).scalar_one_or_none()
        if ms is None:
            ms, _findings = store.save(hq, data)
        found.append(ms)
    return found[0], found[1]


# -- campaigns ---------------------------------------------------------------------------------------

def _campaign(name: str) -> CemCampaign | None:
    return db.session.execute(select(CemCampaign).where(CemCampaign.name == name)).scalar_one_or_none()


def _draft_and_approve(hq: User, reviewer: User, name: str, ms: CemMessageSet, start_at: datetime,
                       now: datetime) -> CemCampaign:
    """Composed by hq@, approved by reviewer@ (the four-eyes rule), scheduled by hq@ — the
    campaign service's own path."""
    from .campaigns import service

    codes = list(db.session.execute(select(OrgUnit.code).where(OrgUnit.kind == "branch").order_by(OrgUnit.code))
                 .scalars())
    campaign = service.create_draft(hq, {
        "name": name, "purpose": "marketing", "rules": {"all": [{"field": "branch", "op": "in", "value": codes}]},
        "steps": [{"channel": "email", "message_set_id": ms.id}], "holdout_share": 0.1,
        "use_global_control": False, "attribution_days": 14, "max_lateness_minutes": 240})
    campaign.seed = DRAW_SEED  # the demo's holdout is the same customers on every load
    db.session.flush()
    service.submit(hq, campaign, "세미나 초대 메일 검토 부탁드립니다.")
    service.approve(reviewer, campaign, current_revision(campaign), "금지 표현 없음, 가격·일정 마스터와 일치.")
    service.schedule(hq, campaign, start_at.replace(tzinfo=UTC).isoformat(), now=now)
    return campaign


def _finished_campaign(hq: User, reviewer: User, ms: CemMessageSet, end: date) -> None:
    """Launched ~40 days before ``end``, sent, its effect imported as sales, closed and frozen."""
    from .campaigns.demo import send_in_the_past
    from .campaigns.results import freeze_due

    if _campaign(FINISHED) is not None:
        return
    at = _launch_at(end)
    campaign = _draft_and_approve(hq, reviewer, FINISHED, ms, at, now=at - timedelta(days=2))
    db.session.commit()
    if not send_in_the_past(campaign, at, contacts_after=at + timedelta(days=LAUNCH_DAYS_BEFORE_END - 5)):
        return
    _import_effect(campaign, at.date())
    campaign = db.session.get(CemCampaign, campaign.id)
    freeze_due(campaign, utcnow())  # its attribution window ended weeks ago: frozen as the tick would
    campaign.created_at = at - timedelta(days=3)
    db.session.commit()


def _import_effect(campaign: CemCampaign, launch_day: date) -> int:
    """A share of the treatment came to the seminar at 강남점 and bought its gift set there: 강남점's
    daily report of the seminar day, re-filed by its staff (store1@) with those purchases added
    (``replace``: the day's report exists already) through the core sales importer — the upload
    page's path. One report, so the demo stays fast."""
    product = db.session.execute(select(Product).join(SaleLine, SaleLine.product_id == Product.id)
                                 .where(Product.unit_price > 0).order_by(Product.unit_price.desc(), Product.id)
                                 .limit(1)).scalar_one_or_none()
    if product is None:
        return 0
    codes = list(db.session.execute(
        select(Customer.code)
        .join(CemCampaignRecipient, CemCampaignRecipient.customer_id == Customer.id)
        .where(CemCampaignRecipient.campaign_id == campaign.id, CemCampaignRecipient.arm == "treatment",
               (Customer.id * 7919 + campaign.id) % 1000 < EFFECT_PER_MILLE)
        .order_by(Customer.id)).scalars())
    day = launch_day + timedelta(days=SEMINAR_AFTER_DAYS)
    result = demo_refile_report(SEMINAR_BRANCH, day, codes, product, _user("store1@example.com"))
    if result.status != "committed":
        current_app.logger.warning("cem_channels demo: the seminar's report was not imported: %s", result.message)
        return 0
    return len(codes)


def _scheduled_campaign(hq: User, reviewer: User, ms: CemMessageSet) -> None:
    """Approved and scheduled for tomorrow 10:00 KST (the jobs consumer launches it then)."""
    if _campaign(SCHEDULED) is not None:
        return
    now = utcnow()
    kst_today = (now + timedelta(hours=9)).date()
    start = datetime.combine(kst_today + timedelta(days=1), time(1, 0))
    _draft_and_approve(hq, reviewer, SCHEDULED, ms, start, now=now)
    db.session.commit()
