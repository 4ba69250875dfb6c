"""Demo data (``portal_seed("demo")``): what ``make run`` shows on the story pages from the first
visit (issue 17).

Made through the add-on's own services, as a person would: stores and a group leader write, the
reviewer publishes (four-eyes), HQ organises sessions. The stories:

- HQ's CRM team (hq@): the health-food seminar campaign at 강남점 — linked to cem_channels'
  finished, frozen demo campaign (HQ's, so HQ tells it), so its result block is **verified**;
- 한빛 그룹 (leader1@): the leader's letter and seminars — linked to prm_groups' closed demo
  programme, **verified**;
- 분당점 (store2@): a KakaoTalk win-back, figures **self-reported**, visible to its region;
- 강남점: family-card points, **pending review**;
- 강남점 (a story reviewed 13 months ago): flagged **needs review**, still found by search.

A session next week presents two of them to the R01 branches; last month's session has minutes and
action items, one of them overdue for 강남점 (branch monitoring reads it through
``ks_overdue_action_items``). Idempotent: stories and sessions are looked up by title first.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from portal.toolkit import User, db, plugin_hook, revision_hash, utcnow

from .errors import StoryError
from .models import PUBLISHED, KsSession, KsStory

SEMINAR = "건강식품 세미나 초대로 재구매율 상승 — 강남점"
LEADER = "리더 서신과 세미나 3회로 그룹 건강식품 구매 회복 — 한빛 그룹"
KAKAO = "Kakao 친구톡 win-back: 6개월 미구매 고객 재방문 — 분당점"
FAMILY = "가족카드 포인트 안내로 객단가 상승 — 강남점"
STALE = "명절 선물세트 사전 예약 문자 — 강남점"
NEXT_SESSION = "4분기 지식 공유 세션: 세미나와 재구매"
PAST_SESSION = "3분기 지식 공유 세션: 휴면 고객 깨우기"


def seed(profile: str) -> None:
    if profile != "demo":
        return
    users = {e.split("@")[0]: _user(e) for e in ("store1@example.com", "store2@example.com", "leader1@example.com",
                                                 "reviewer@example.com", "hq@example.com")}
    if any(u is None for u in users.values()):
        return  # a demo without its accounts
    try:
        with db.session.begin_nested():  # all or nothing, without undoing the install around it
            _sessions(users, _stories(users))
    except StoryError as exc:  # the demo never stops the loader; say what went wrong
        current_app.logger.warning("knowledge_share demo: %s", exc)
    db.session.commit()


def _user(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def _story(title: str) -> KsStory | None:
    return db.session.execute(select(KsStory).where(KsStory.title == title, KsStory.base_id.is_(None))) \
        .scalars().first()


def _frozen_campaign_id() -> int | None:
    """cem_channels' finished demo campaign (closed, frozen): the first frozen one by id."""
    hook = plugin_hook("cem_campaign_result")
    for ref in range(1, 40):
        doc = hook(ref=ref)
        if doc and doc.get("frozen"):
            return ref
    return None


def _closed_programme_id() -> int | None:
    """prm_groups' finished demo programme: the first closed one with a final result."""
    hook = plugin_hook("prm_programme_result")
    for ref in range(1, 40):
        doc = hook(programme_id=ref)
        if doc and doc.get("frozen"):
            return ref
    return None


def _write(author: User, reviewer: User | None, data: dict[str, Any], *, publish: bool = True) -> KsStory:
    """Create, submit and (with ``reviewer``) publish one story through the service."""
    from .stories.service import create_story, fire, revision_data

    story = _story(data["title"])
    if story is not None:
        return story
    story = create_story(data, author)
    db.session.flush()
    fire(story, "submit", author, "검토 부탁드립니다.")
    if publish and reviewer is not None:
        fire(story, "publish", reviewer, "수치와 개인정보 확인했습니다. 게시합니다.",
             revision=revision_hash(revision_data(story)))
    db.session.flush()
    return story


def _stories(u: dict[str, User]) -> dict[str, KsStory]:
    campaign = _frozen_campaign_id()
    programme = _closed_programme_id()
    out: dict[str, KsStory] = {}
    out["seminar"] = _write(u["hq"], u["reviewer"], {
        "title": SEMINAR,
        "summary": "지난 세미나 참석 고객에게 **다음 세미나 초대 메일**을 보내 건강식품 재구매가 늘었습니다. "
                   "본사 측정 결과(보류군 대비)가 함께 있습니다.",
        "problem": "건강식품 첫 구매 후 두 번째 구매로 이어지는 고객이 적었습니다.",
        "audience": "최근 1년 건강식품 구매 고객 중 마케팅 수신 동의 고객 (본사 세그먼트 그대로)",
        "offer": "세미나 당일 선물세트 10% 할인, 참석 고객 시음",
        "timeline": "초대 메일 → 3일 뒤 강남점 세미나 → 2주 귀속 기간",
        "steps": "1. 본사 메시지 세트 사용 (금지 표현 검사 통과)\n2. 매장 직원이 전날 참석 확인 전화\n"
                 "3. 세미나 후 구매 고객에게 감사 문자",
        "lessons": "- 세미나 **전날 확인 전화**가 참석률을 가장 크게 올렸습니다.\n- 할인보다 시음이 반응이 좋았습니다.",
        "channels": ["email", "seminar", "phone"], "category": "health", "season": "autumn",
        "keywords": ["세미나", "재구매", "건강식품"], "visibility": "all",
        **({"campaign": campaign} if campaign else {}),
    })
    out["leader"] = _write(u["leader1"], u["reviewer"], {
        "title": LEADER,
        "summary": "건강식품 구매율이 다른 그룹보다 낮았던 한빛 그룹에서 **최상위 리더의 서신**과 세미나 3회로 "
                   "구매율을 회복했습니다.",
        "problem": "본사 레이더에서 건강식품이 경보 수준으로 낮게 나왔습니다.",
        "audience": "그룹 내 활동 고객 (보류군 30 %는 본사가 무작위로 남김)",
        "offer": "리더 서신(이메일·우편 DM)과 제품 세미나 초대",
        "timeline": "서신 발송 → 2주 뒤부터 세미나 3회 → 측정 30일",
        "steps": "리더가 직접 문안을 승인하고, 본사가 발송과 측정을 맡았습니다.",
        "lessons": "리더의 목소리로 쓴 편지가 회사 명의 안내보다 반응이 좋았습니다.",
        "channels": ["email", "dm", "seminar"], "category": "health", "season": "spring",
        "keywords": ["리더", "서신", "세미나"], "visibility": "all",
        **({"programme": programme} if programme else {}),
    })
    out["kakao"] = _write(u["store2"], u["reviewer"], {
        "title": KAKAO,
        "summary": "6개월 이상 방문이 없던 고객에게 친구톡으로 신상품 체험 쿠폰을 보냈습니다.",
        "problem": "휴면 고객이 늘어 월 방문 고객 수가 줄었습니다.",
        "audience": "최근 6개월 미구매, 카카오 수신 동의 고객",
        "offer": "매장 방문 시 신상품 체험 세트",
        "result_text": "발송 412명 중 **37명 재방문** (9.0 %), 전년 같은 달 대비 방문 +6 % — 매장 자체 집계",
        "lessons": "쿠폰 유효기간을 2주로 짧게 잡은 것이 효과적이었습니다.",
        "channels": ["kakao", "store"], "category": "beauty", "season": "winter",
        "keywords": ["휴면", "win-back", "카카오"], "visibility": "region",
    })
    out["family"] = _write(u["store1"], None, {
        "title": FAMILY,
        "summary": "가족카드 고객에게 합산 포인트를 안내해 객단가가 올랐습니다.",
        "problem": "가족카드 포인트를 모르는 고객이 많았습니다.",
        "result_text": "안내 후 한 달 객단가 +8 % (매장 자체 집계)",
        "channels": ["sms", "store"], "category": "home", "keywords": ["가족카드", "포인트"], "visibility": "all",
    }, publish=False)
    stale = _write(u["store1"], u["reviewer"], {
        "title": STALE,
        "summary": "명절 3주 전 선물세트 사전 예약 문자를 보내 예약 판매가 늘었습니다.",
        "result_text": "사전 예약 112건 (전년 64건) — 매장 자체 집계",
        "channels": ["sms"], "category": "health", "season": "chuseok", "keywords": ["명절", "선물세트"],
        "visibility": "all",
    })
    if stale.reviewed_at is not None and stale.review_due is not None and stale.review_due > _today():
        # last reviewed 13 months ago: the freshness flag shows on the author's pages
        stale.reviewed_at = stale.reviewed_at - timedelta(days=396)
        stale.published_at = stale.reviewed_at
        stale.review_due = (stale.reviewed_at + timedelta(days=365)).date()
    return out


def _today():
    return (utcnow() + timedelta(hours=9)).date()


def _sessions(u: dict[str, User], stories: dict[str, KsStory]) -> None:
    from .sessions.actions import add_action
    from .sessions.service import create_session, invite, mark_attendance, set_agenda, update_session

    hq = u["hq"]
    published = [s for s in stories.values() if s.state == PUBLISHED]
    if not published:
        return
    today = _today()
    if _session(NEXT_SESSION) is None:
        start = datetime.combine(today + timedelta(days=7), time(15, 0))
        s = create_session({"title": NEXT_SESSION, "starts_at": start.isoformat(),
                            "ends_at": (start + timedelta(hours=2)).isoformat(),
                            "place": "본사 10층 대회의실", "online_url": "https://meet.example.com/ks-q4",
                            "description": "성공 사례 두 건을 발표하고, 각 지점에 맞게 적용할 방법을 함께 정합니다."}, hq)
        agenda = [{"story": stories["seminar"].id, "presenter": u["store1"].id}]
        if stories.get("kakao") is not None and stories["kakao"].state == PUBLISHED:
            agenda.append({"story": stories["kakao"].id, "presenter": u["store2"].id})
        set_agenda(s, agenda, hq)
        invite(s, {"regions": ["R01"], "roles": []}, hq)
    if _session(PAST_SESSION) is None:
        start = datetime.combine(today + timedelta(days=1), time(14, 0))
        s = create_session({"title": PAST_SESSION, "starts_at": start.isoformat(),
                            "ends_at": (start + timedelta(hours=2)).isoformat(), "place": "수도권 지역본부 교육장",
                            "description": "휴면 고객 재방문 사례 공유"}, hq)
        set_agenda(s, [{"story": stories["seminar"].id, "presenter": u["store1"].id}], hq)
        invite(s, {"branches": ["B001", "B002"], "roles": []}, hq)
        # held a month ago: the session's own times moved back (the service refuses a past start)
        s.starts_at = s.starts_at - timedelta(days=36)
        s.ends_at = s.ends_at - timedelta(days=36)
        db.session.flush()
        mark_attendance(s, [{"user": u["store1"].id, "attended": True}, {"user": u["store2"].id, "attended": True}],
                        hq)
        update_session(s, {"minutes": "- 강남점: 세미나 전날 확인 전화 스크립트를 공유하기로 함\n"
                                      "- 분당점: 친구톡 쿠폰 유효기간 2주 적용"}, hq)
        add_action(s, {"title": "세미나 확인 전화 스크립트를 전 지점에 공유", "owner_branch": "B001",
                       "due_date": (today - timedelta(days=5)).isoformat()}, hq)
        add_action(s, {"title": "친구톡 win-back 쿠폰 유효기간 2주로 변경", "owner_branch": "B002",
                       "due_date": (today + timedelta(days=10)).isoformat()}, hq)


def _session(title: str) -> KsSession | None:
    return db.session.execute(select(KsSession).where(KsSession.title == title)).scalars().first()
