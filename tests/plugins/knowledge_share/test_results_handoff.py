"""The hand-off from prm_groups: a programme closed with a significant increase becomes a private,
linked, verified draft story for HQ — once per programme; other verdicts make none."""

from __future__ import annotations

from sqlalchemy import select

from plugins.knowledge_share.models import PRIVATE, VERIFIED, KsStory
from plugins.knowledge_share.results.handoff import on_programme_closed
from portal.toolkit import PartnerGroup, db
from tests.plugins.knowledge_share.results_fixtures import users

PROGRAMME = {"id": 7, "name": "G01 건강식품 세미나 프로그램", "group": "G01", "category": "health",
             "url": "/prm/programmes/7/results"}
#: The shape of prm's final results document (``GET /api/v1/prm/programmes/<id>/results``).
RESULT = {"programme_id": 7, "state": "closed", "verdict": "significant_increase",
          "verdict_text": "구매율이 유의하게 늘었습니다.", "frozen": True, "computed_at": "2026-11-30T00:00:00Z",
          "final": {"computed_at": "2026-11-30T00:00:00Z"}, "window": {"start": "2026-11-02", "end": "2026-11-29"},
          "holdout": {"available": True, "lift": 8.1, "ci_low": 5.07, "ci_high": 11.13, "p_value": 1.9e-7,
                      "arms": {"treatment": {"n": 1000, "conversions": 181}, "holdout": {"n": 1000, "conversions": 100}},
                      "method": "newcombe+score"}}


def _stories() -> list[KsStory]:
    return list(db.session.scalars(select(KsStory).where(KsStory.programme_id == 7)))


def test_a_significant_programme_becomes_one_private_verified_draft(app):
    u = users()
    on_programme_closed(PROGRAMME, RESULT, u.hq)
    on_programme_closed(PROGRAMME, RESULT, u.hq)  # replayed: still one
    db.session.commit()
    [s] = _stories()
    g01 = db.session.scalar(select(PartnerGroup.id).where(PartnerGroup.code == "G01"))
    assert (s.state, s.author_id, s.result_mark) == (PRIVATE, u.hq.id, VERIFIED)
    assert s.title == PROGRAMME["name"] and s.visibility == "group" and s.scope_group_id == g01
    assert s.result["lift_pp"] == 8.1 and s.result["ci_pp"] == [5.07, 11.13]
    assert s.result["source"] == {"kind": "programme", "id": 7, "name": PROGRAMME["name"],
                                  "url": "/prm/programmes/7/results"}


def test_other_verdicts_and_junk_make_no_story(app):
    u = users()
    for verdict in ("not_significant", "significant_decrease", "too_small"):
        on_programme_closed(PROGRAMME, {**RESULT, "verdict": verdict}, u.hq)
    on_programme_closed({"id": "7"}, RESULT, u.hq)
    on_programme_closed(None, None, u.hq)  # type: ignore[arg-type]
    assert not _stories()
