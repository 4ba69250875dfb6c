"""knowledge_share Korean search over 100,000 stories on SQLite and PostgreSQL (target: p95 under
100 ms on both, issue 17 item 5), beside the floor — the bare text-index query without our code.

Usage::

    .venv/bin/python bench/ks_search.py --stories 100000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python bench/ks_search.py --stories 100000 --no-pg      # SQLite only

What it does, per backend (SQLite file ``bench/.work/ks_search.sqlite``, PostgreSQL database
``pp_ks_bench``):

1. a database migrated to head with the small demo organisation (HQ, 3 regions, 12 branches,
   5 partner groups, the demo accounts; 50 customers) and ``knowledge_share`` installed;
2. ``--stories`` stories written set-wise (explicit ids, the same rows on both backends, seeded
   random): Korean titles and bodies built from the demo categories (건강식품, 화장품, …), products,
   channels (카카오 친구톡, 문자, 세미나, …), audiences, branch names and result phrases, with Latin
   words (Kakao, SMS, VIP, win-back, CRM); 88 % published, the rest private, pending or archived;
   visibility 50 % everyone, 25 % a region, 20 % a branch, 5 % a group; then
   ``search.index.reindex_all()`` (timed: the indexing cost of the whole library);
3. the queries — 2-syllable words, 3-syllable words, compounds written without a space, Latin
   words in mixed case, two-word queries and one-syllable prefixes (``--queries``, default 240,
   cycled through the list) — each run once to warm up and then timed as store2 (branch B002,
   visibility filtered): ``search.query.search(user, q)``, i.e. the count and the first page of
   20 by relevance with the stories loaded, exactly what the list page and the API call;
4. the floor: the bare statements of the text index for the same queries (FTS5 ``MATCH`` / GIN
   ``@@``: the count and the 20 highest ids), without the visibility join, the ranking or the ORM;
5. both backends must give the same totals (capped at 1,000, ``search.query.COUNT_CAP``) and the
   same first page of story ids for every query (the run fails otherwise).

Prints p50 / p95 / max per backend and per kind of query; results in
``bench/results/ks-search-<stamp>.json`` and ``ks-search-latest.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from load_data import DEFAULT_PG, WORK, bench_env, ensure_database  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DB_NAME = "pp_ks_bench"
SQLITE_PATH = WORK / "ks_search.sqlite"
TARGET_MS = 100.0
SEED = 17
NOW = datetime(2026, 12, 7, 3, 0, 0)

CATEGORIES = ["건강식품", "화장품", "생활용품", "주방용품", "퍼스널케어", "유아용품", "디지털기기", "패션잡화"]
CATEGORY_CODES = ["health", "beauty", "home", "kitchen", "personal", "baby", "digital", "fashion"]
PRODUCTS = ["홍삼정", "종합비타민", "유산균", "오메가3", "선크림", "수분크림", "에센스", "샴푸", "치약", "텀블러",
            "프라이팬", "밀폐용기", "기저귀", "물티슈", "무선이어폰", "보조배터리", "스카프", "가죽지갑", "콜라겐", "단백질쉐이크"]
CHANNELS = [("카카오 친구톡", "kakao"), ("문자", "sms"), ("이메일", "email"), ("앱 푸시", "push"), ("DM 엽서", "dm"),
            ("전화 상담", "phone"), ("방문 상담", "visit"), ("세미나", "seminar"), ("매장 행사", "store")]
AUDIENCES = ["VIP 고객", "휴면 고객", "신규 고객", "재구매 고객", "30대 여성 고객", "50대 남성 고객", "이탈 위험 고객",
             "첫 구매 고객", "우수 회원", "가족 회원", "온라인 가입 고객"]
BRANCH_NAMES = ["강남점", "분당점", "일산점", "인천점", "대전점", "청주점", "광주점", "전주점", "부산점", "대구점", "울산점",
                "창원점"]
SEASONS_KO = [("설 명절", "new_year"), ("봄맞이", "spring"), ("여름 휴가철", "summer"), ("추석", "chuseok"),
              ("가을", "autumn"), ("연말", "year_end"), ("겨울", "winter")]
METRICS = ["재구매율", "방문율", "객단가", "매출", "응답률", "참석률", "쿠폰 사용률", "회원 가입", "상담 건수"]
LATIN = ["Kakao", "SMS", "VIP", "win-back", "CRM", "QR", "NPS", "A/B", "LMS", "MMS", "Instagram", "YouTube"]
TACTICS = ["체험단 모집", "샘플 증정", "건강 강좌", "뷰티 클래스", "시음회", "구매 감사 문자", "생일 쿠폰", "리필 알림",
           "정기 배송 안내", "가족 초대 행사", "후기 이벤트", "스탬프 적립"]
LESSONS = ["발송 시간은 오전 10시가 가장 좋았습니다", "첫 문장에 혜택을 밝히면 응답이 늘었습니다",
           "쿠폰 유효기간은 2주가 적당했습니다", "사전 전화 안내가 참석률을 크게 높였습니다",
           "너무 잦은 발송은 수신 거부를 늘렸습니다", "점장이 직접 인사하니 재방문이 늘었습니다",
           "사진이 들어간 안내가 더 많이 열렸습니다", "소규모 모임이 대규모 행사보다 반응이 좋았습니다"]

# (kind, query) — the benchmark's query list; cycled to reach --queries
QUERIES = [
    *(("2-syllable", q) for q in ["건강", "고객", "매출", "방문", "쿠폰", "문자", "상담", "샘플", "회원", "증정",
                                  "행사", "추석", "연말", "유산", "샴푸", "치약", "강남", "부산", "응답", "발송"]),
    *(("3-syllable", q) for q in ["세미나", "재구매", "화장품", "친구톡", "홍삼정", "유산균", "선크림", "객단가",
                                  "체험단", "시음회", "강남점", "참석률", "응답률", "텀블러", "기저귀", "물티슈"]),
    *(("no-space", q) for q in ["건강식품세미나", "재구매율상승", "카카오친구톡", "휴면고객", "생일쿠폰", "뷰티클래스",
                                "건강강좌", "정기배송안내", "샘플증정", "구매감사문자", "가족초대행사", "화장품샘플"]),
    *(("latin", q) for q in ["kakao", "KAKAO", "Kakao", "sms", "vip", "Win-Back", "crm", "qr", "nps",
                             "instagram", "YouTube", "lms"]),
    *(("2-term", q) for q in ["건강 세미나", "kakao 재구매", "VIP 쿠폰", "휴면 고객", "화장품 샘플", "추석 선물",
                              "문자 발송", "강남점 세미나", "sms 생일쿠폰", "유산균 체험단"]),
    *(("1-syllable", q) for q in ["꿀", "차", "팩", "빵"]),
]


def sentence(rng: random.Random) -> str:
    cat = rng.choice(CATEGORIES)
    prod = rng.choice(PRODUCTS)
    ch = rng.choice(CHANNELS)[0]
    aud = rng.choice(AUDIENCES)
    metric = rng.choice(METRICS)
    tactic = rng.choice(TACTICS)
    pct = rng.randint(3, 180)
    return rng.choice([
        f"{aud}에게 {ch}으로 {prod} {tactic}을 안내했습니다.",
        f"{cat} {tactic} 이후 {metric}이 {pct}% 올랐습니다.",
        f"{rng.choice(BRANCH_NAMES)}에서 {aud} {rng.randint(20, 400)}명을 대상으로 {tactic}을 진행했습니다.",
        f"{rng.choice(SEASONS_KO)[0]}을 앞두고 {prod} 구매 고객에게 {ch} 안내를 보냈습니다.",
        f"{rng.choice(LESSONS)}.",
        f"{rng.choice(LATIN)} {ch} 캠페인으로 {metric} {pct}% 개선, {aud} 반응이 좋았습니다.",
        f"{cat} 담당자가 {prod} 사용법을 설명하고 {tactic} 신청을 받았습니다.",
        f"지난해 같은 기간보다 {metric}이 {pct}% 높았고 {aud}의 재방문이 이어졌습니다.",
    ])


def paragraph(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(lo, hi)))


def make_stories(n: int, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """``n`` story rows (dicts for one executemany INSERT), deterministic for the seed."""
    rng = random.Random(SEED)
    rows = []
    branches, groups = ctx["branches"], ctx["groups"]
    for i in range(1, n + 1):
        cat_i = rng.randrange(len(CATEGORIES))
        ch_ko, ch = rng.choice(CHANNELS)
        season_ko, season = rng.choice(SEASONS_KO)
        r = rng.random()
        state = "published" if r < 0.88 else ("private" if r < 0.93 else ("pending" if r < 0.97 else "archived"))
        v = rng.random()
        branch_id, region_id = rng.choice(branches)
        if v < 0.5:
            visibility, scope_unit, scope_group = "all", None, None
        elif v < 0.75:
            visibility, scope_unit, scope_group = "region", region_id, None
        elif v < 0.95:
            visibility, scope_unit, scope_group = "branch", branch_id, None
        else:
            visibility, scope_unit, scope_group = "group", None, rng.choice(groups)
        published = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 900))
        title = rng.choice([
            f"{CATEGORIES[cat_i]} {rng.choice(TACTICS)}로 {rng.choice(METRICS)} {rng.randint(5, 180)}% 상승",
            f"{ch_ko}으로 {rng.choice(AUDIENCES)} {rng.choice(['재방문', '재구매', '참여', '회복'])} 성공",
            f"{rng.choice(BRANCH_NAMES)} {season_ko} {rng.choice(PRODUCTS)} {rng.choice(TACTICS)} 후기",
            f"{rng.choice(LATIN)} {ch_ko} {rng.choice(['win-back', '리마인드', '감사 인사', '신상품 안내'])} 사례",
        ])
        rows.append({
            "id": i, "title": title[:200], "summary": paragraph(rng, 1, 2), "problem": paragraph(rng, 1, 2),
            "audience": rng.choice(AUDIENCES), "audience_rules": None, "channels": [ch, rng.choice(CHANNELS)[1]],
            "offer": sentence(rng), "timeline": f"{rng.randint(1, 12)}월 {rng.randint(1, 4)}주차부터 {rng.randint(2, 8)}주간",
            "steps": paragraph(rng, 2, 4), "result_text": paragraph(rng, 1, 2), "lessons": paragraph(rng, 1, 2),
            "category_id": ctx["categories"].get(CATEGORY_CODES[cat_i]), "rfm_segment": rng.choice(
                ["champions", "loyal", "at_risk", "hibernating", "new", None]),
            "season": season, "keywords": rng.sample(["재구매", "신규", "휴면", "VIP", "세미나", "쿠폰", "샘플"], 2),
            "author_id": ctx["author_id"], "author_unit_id": branch_id, "author_group_id": None,
            "visibility": visibility, "scope_unit_id": scope_unit, "scope_group_id": scope_group,
            "campaign_id": None, "programme_id": None, "result": None,
            "result_mark": rng.choice(["verified", "interim", "self_reported", "self_reported"]),
            "result_checked_at": None, "state": state, "version": 1, "created_at": published, "updated_at": published,
            "published_at": published if state in ("published", "archived") else None,
            "reviewed_at": published if state in ("published", "archived") else None, "review_due": None,
            "helpful_count": rng.randint(0, 30), "reuse_count": 0, "base_id": None,
        })
    return rows


def make_app(url: str):
    os.environ.update(bench_env(url))
    from portal import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "PORTAL_PLUGINS": ["knowledge_share"],
                       "SECRET_KEY": "bench-only-secret-not-for-production"})


def prepare(url: str, n: int, recreate: bool) -> dict[str, float]:
    """Migrated database with the demo organisation, knowledge_share and ``n`` indexed stories."""
    from sqlalchemy import func, insert, select, text

    from plugins.knowledge_share.models import KsSearchDoc, KsStory
    from plugins.knowledge_share.search.index import reindex_all
    from portal.demo.loader import load_demo
    from portal.extensions import db
    from portal.migrations_support import upgrade_core, upgrade_plugin
    from portal.models import Category, OrgUnit, PartnerGroup, PluginState, User
    from portal.plugins_lifecycle import install

    stages: dict[str, float] = {}
    app = make_app(url)
    with app.app_context():
        upgrade_core()
        if not db.session.execute(select(func.count(OrgUnit.id))).scalar_one():
            load_demo(customers=50, lines_per_customer=1, install_plugins=False, echo=lambda _line: None)
            db.session.commit()
        state = db.session.get(PluginState, "knowledge_share")
        if state is None or not state.installed:
            install("knowledge_share")
        else:  # a database of an earlier run: its plugin migrations up to head (ks_0003 …)
            db.session.commit()
            upgrade_plugin("knowledge_share")
        have = db.session.execute(select(func.count(KsStory.id))).scalar_one()
        docs = db.session.execute(select(func.count(KsSearchDoc.story_id))).scalar_one()
        if have == n and docs and not recreate:
            print(f"  reusing {have:,} stories ({docs:,} search documents)", flush=True)
            return stages
        units = {u.code: u for u in db.session.execute(select(OrgUnit)).scalars()}
        ctx = {
            "branches": [(u.id, u.parent_id) for u in units.values() if u.kind == "branch"],
            "groups": list(db.session.execute(select(PartnerGroup.id)).scalars()),
            "categories": dict(db.session.execute(select(Category.code, Category.id)).all()),
            "author_id": db.session.execute(select(User.id).where(User.email == "store1@example.com")).scalar_one(),
        }
        db.session.execute(text("DELETE FROM ks_search_doc"))
        db.session.execute(text("DELETE FROM ks_story"))
        db.session.commit()
        t = time.perf_counter()
        rows = make_stories(n, ctx)
        stages["generate"] = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, len(rows), 5000):
            db.session.execute(insert(KsStory), rows[i:i + 5000])
        db.session.commit()
        stages["insert stories"] = time.perf_counter() - t
        t = time.perf_counter()
        indexed = reindex_all()
        db.session.commit()
        stages["reindex_all"] = time.perf_counter() - t
        print(f"  {n:,} stories, {indexed:,} indexed in {stages['reindex_all']:.1f} s", flush=True)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE ks_story"))
                conn.execute(text("VACUUM ANALYZE ks_search_doc"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.execute(text("INSERT INTO ks_search_fts(ks_search_fts) VALUES ('optimize')"))
            db.session.commit()
    return stages


def floor_sql(dialect: str) -> tuple[str, str]:
    if dialect == "postgresql":
        return ("SELECT count(*) FROM ks_search_doc WHERE tsv @@ to_tsquery('simple'::regconfig, :q)",
                "SELECT story_id FROM ks_search_doc WHERE tsv @@ to_tsquery('simple'::regconfig, :q) "
                "ORDER BY story_id DESC LIMIT 20")
    return ("SELECT count(*) FROM ks_search_fts WHERE ks_search_fts MATCH :q",
            "SELECT rowid FROM ks_search_fts WHERE ks_search_fts MATCH :q ORDER BY rowid DESC LIMIT 20")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def summary(times: list[float]) -> dict[str, float]:
    return {"n": len(times), "p50": statistics.median(times), "p95": pct(times, 95), "max": max(times)}


def run(url: str, label: str, n_queries: int) -> dict[str, Any]:
    from sqlalchemy import select, text

    from plugins.knowledge_share.search.query import search
    from plugins.knowledge_share.search.tokens import fts5_query, query_units, tsquery
    from portal.extensions import db
    from portal.models import User

    app = make_app(url)
    out: dict[str, Any] = {"label": label, "queries": {}, "pages": {}, "by_kind": {}, "floor": {}}
    with app.app_context(), app.test_request_context():
        dialect = db.engine.dialect.name
        user = db.session.execute(select(User).where(User.email == "store2@example.com")).scalar_one()
        plan = [QUERIES[i % len(QUERIES)] for i in range(max(n_queries, len(QUERIES)))]
        for _kind, q in QUERIES:  # warm-up: caches and the OS page cache
            search(user, q)
        db.session.rollback()
        times: list[float] = []
        kinds: dict[str, list[float]] = {}
        for kind, q in plan:
            t = time.perf_counter()
            page = search(user, q)
            ms = (time.perf_counter() - t) * 1000
            db.session.rollback()
            times.append(ms)
            kinds.setdefault(kind, []).append(ms)
            out["queries"][q] = page.total
            out["pages"][q] = [s.id for s in page.items]
        out["all"] = summary(times)
        out["by_kind"] = {k: summary(v) for k, v in kinds.items()}
        count_sql, top_sql = floor_sql(dialect)
        floor: list[float] = []
        for _kind, q in plan:
            units = query_units(q)
            arg = tsquery(units) if dialect == "postgresql" else fts5_query(units)
            t = time.perf_counter()
            db.session.execute(text(count_sql), {"q": arg}).scalar_one()
            db.session.execute(text(top_sql), {"q": arg}).all()
            floor.append((time.perf_counter() - t) * 1000)
        out["floor"] = summary(floor)
    return out


def fmt(s: dict[str, float]) -> str:
    return f"p50 {s['p50']:6.1f} ms  p95 {s['p95']:6.1f} ms  max {s['max']:6.1f} ms  (n={s['n']})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stories", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=240)
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--sqlite", default=str(SQLITE_PATH), help="SQLite database file")
    ap.add_argument("--recreate", action="store_true", help="start from new databases")
    args = ap.parse_args()

    targets: list[tuple[str, str]] = []
    if not args.no_sqlite:
        Path(args.sqlite).parent.mkdir(parents=True, exist_ok=True)
        if args.recreate:
            for sfx in ("", "-wal", "-shm"):
                Path(args.sqlite + sfx).unlink(missing_ok=True)
        targets.append(("sqlite", f"sqlite:///{Path(args.sqlite).resolve()}"))
    if not args.no_pg:
        targets.append(("postgresql", ensure_database(args.pg_url, DB_NAME, recreate=args.recreate)))
    results: dict[str, Any] = {"stories": args.stories, "at": datetime.now().isoformat(timespec="seconds"),
                               "load": os.getloadavg()[0], "backends": {}}
    for label, url in targets:
        print(f"{label}: preparing {args.stories:,} stories", flush=True)
        stages = prepare(url, args.stories, args.recreate)
        res = run(url, label, args.queries)
        res["stages"] = stages
        results["backends"][label] = res
        print(f"{label}: search()  {fmt(res['all'])}", flush=True)
        for kind, s in res["by_kind"].items():
            print(f"  {kind:11s} {fmt(s)}")
        print(f"{label}: floor     {fmt(res['floor'])}", flush=True)
    ok = True
    if len(results["backends"]) == 2:
        a, b = (results["backends"][k]["queries"] for k in ("sqlite", "postgresql"))
        diff = {q: (a[q], b[q]) for q in a if a[q] != b.get(q)}
        pa, pb = (results["backends"][k]["pages"] for k in ("sqlite", "postgresql"))
        diff.update({q: ("page", pa[q], pb.get(q)) for q in pa if pa[q] != pb.get(q)})
        results["same_totals"] = not diff
        print("same totals and first pages on both backends" if not diff else f"DIFFERENT answers: {diff}")
        ok = not diff
    for label, res in results["backends"].items():
        verdict = "met" if res["all"]["p95"] < TARGET_MS else "NOT met"
        print(f"{label}: p95 {res['all']['p95']:.1f} ms — target p95 < {TARGET_MS:.0f} ms {verdict}")
    results["load_after"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"ks-search-{stamp}.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    lines = [f"# ks_search {results['at']} ({args.stories:,} stories, load {results['load']:.1f})", ""]
    for label, res in results["backends"].items():
        lines.append(f"- {label}: search() {fmt(res['all'])}; floor {fmt(res['floor'])}")
    (RESULTS / "ks-search-latest.md").write_text("\n".join(lines) + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
