"""Load the demo organisation, accounts, customers and three years of sales — deterministically.

The sales run up to ``end`` (by default yesterday in Asia/Seoul, so ``make run`` shows current
charts on any day) and are the same for the same ``end``: every random draw comes from one seeded
generator. Customers behave like real ones, so the lifetime-value models have something to find
(see :func:`_simulate_visits`): each buys at their own rate for a random lifetime, then stops.

Bulk inserts (``executemany``) keep it to a few seconds for 5,000 customers / 60,000 lines and
let benchmarks build a million customers with the same code.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select

from ..auth.passwords import hash_password
from ..bounds import local_today
from ..db_utils import sync_sequences
from ..extensions import db
from ..models import (
    Category,
    Consent,
    Customer,
    Household,
    OrgUnit,
    Partner,
    PartnerGroup,
    Product,
    QualityIssue,
    SaleLine,
    SalesReport,
    User,
)
from ..org.service import _place
from ..sales.warehouse import refresh_customer_totals
from ..security.roles import BRANCH_STAFF, DISTRIBUTOR, GROUP_LEADER, HQ_STAFF, REVIEWER, SITE_ADMIN
from ..users.service import create_user, grant_local
from .names import (
    CATEGORIES,
    CATEGORY_WEIGHTS,
    CITIES,
    EMAIL_DOMAINS,
    GIVEN_FIRST,
    GIVEN_SECOND,
    PRODUCTS,
    ROMAN,
    STREETS,
    SURNAMES,
)

DEMO_PASSWORD = "demo-pass-2026"
DEMO_DAYS = 3 * 365  # the sales history: long enough for customers last seen over two years ago
SEED = 2026
# Customers (Pareto/NBD-like, per week): visit rate λ ~ Gamma(RATE_SHAPE) scaled to the lines asked
# for; lifetime τ ~ Exponential(μ), μ ~ Gamma(LIFE_SHAPE, rate LIFE_RATE): a mean of about a year.
RATE_SHAPE = 0.9
LIFE_SHAPE, LIFE_RATE = 1.5, 78.0
NEVER_BOUGHT = 0.05  # registered, never bought
LINES_PER_VISIT = (1, 1, 1, 2, 2, 3)
REGIONS = [("R01", "수도권 지역본부"), ("R02", "중부·호남 지역본부"), ("R03", "영남 지역본부")]
BRANCHES = [
    ("B001", "강남점", "R01"), ("B002", "분당점", "R01"), ("B003", "일산점", "R01"), ("B004", "인천점", "R01"),
    ("B005", "대전점", "R02"), ("B006", "청주점", "R02"), ("B007", "광주점", "R02"), ("B008", "전주점", "R02"),
    ("B009", "부산점", "R03"), ("B010", "대구점", "R03"), ("B011", "울산점", "R03"), ("B012", "창원점", "R03"),
]
GROUPS = [("G01", "한빛 그룹"), ("G02", "푸른숲 그룹"), ("G03", "새날 그룹"), ("G04", "다온 그룹"), ("G05", "누리 그룹")]
#: (group, category it is weak in, what its customers buy instead) and the share of those lines, in tenths.
WEAK_CATEGORY = ("G01", "health", "home")
WEAK_SHARE_TENTHS = 6
DEMO_ACCOUNTS = [
    ("admin@example.com", "관리자", [SITE_ADMIN], None),
    ("hq@example.com", "본사 CRM팀", [HQ_STAFF], None),
    ("reviewer@example.com", "지식 검토자", [REVIEWER], None),
    ("store1@example.com", "강남점 직원", [], ("branch", "B001", BRANCH_STAFF)),
    ("store2@example.com", "분당점 직원", [], ("branch", "B002", BRANCH_STAFF)),
    ("leader1@example.com", "한빛 그룹 리더", [], ("group", "G01", GROUP_LEADER)),
    ("ibo1@example.com", "한빛 디스트리뷰터", [], ("partner", "G01-0002", DISTRIBUTOR)),
]


class DemoError(Exception):
    pass


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_FIRST) + rng.choice(GIVEN_SECOND)


def demo_end() -> date:
    """The demo's last sales day: yesterday in the portal's time zone (Asia/Seoul)."""
    return local_today() - timedelta(days=1)


def load_demo(customers: int = 5000, lines_per_customer: int = 12, force: bool = False,
              echo: Callable[[str], None] = print, accounts: bool = True, install_plugins: bool = True,
              end: date | None = None, scores: bool = False, platform: bool = False) -> str:
    """Load the demo into an empty database; sales end on ``end`` (default :func:`demo_end`).

    ``scores``: also compute the customer scores (as ``portal analytics refresh`` would, as of the
    day after ``end``), so the Analytics page and the Scores tabs are filled on the first run.
    ``platform``: also give the platform services work to show (contact history, the outbox, the
    inbox, tasks, an experiment — :mod:`portal.demo.platform`); only into an empty database (not
    with ``force``), after the add-ons are installed so their approvals can be requested.
    """
    if not force and db.session.execute(select(func.count(OrgUnit.id))).scalar_one():
        raise DemoError("The database already has data; the demo loads only into an empty database.")
    end = end or demo_end()
    start = end - timedelta(days=DEMO_DAYS - 1)
    # Two fixed streams, neither depending on the day: who the customers are (the same draws, in
    # the same order, as ever: tests and benchmarks rely on the organisation and customers), and
    # when they buy (offsets from ``start``). Another day gives the same story shifted to end there.
    rng, timing = random.Random(SEED), random.Random(f"{SEED}:timing")
    branches, groups, partners = _organisation(rng, start)
    categories, products = _catalogue()
    if accounts:
        _accounts(branches, groups, partners)
    db.session.commit()
    echo(f"organisation: {len(branches)} branches, {len(groups)} groups, {len(partners)} distributors")
    first_days = _first_purchases(timing, customers, start, end)
    n_customers = _customers(rng, timing, customers, branches, partners, echo, first_days, start, end)
    n_lines = _sales(timing, customers * lines_per_customer, categories, products, echo, first_days, end)
    summary = f"demo loaded: {n_customers} customers, {n_lines} sale lines up to {end.isoformat()}"
    if scores:
        from ..analytics.scoring import refresh_scores

        run = refresh_scores(as_of=end + timedelta(days=1))
        echo(f"customer scores: {run.message}")
    if install_plugins:
        _install_demo_plugins(echo)
    if platform and accounts and not force:
        from .platform import load_platform_demo

        load_platform_demo(end, echo, seed=SEED)
    return summary


def _organisation(rng: random.Random, start: date) -> tuple[dict[str, OrgUnit], dict[str, PartnerGroup], list[Partner]]:
    hq = OrgUnit(code="HQ", name="본사", kind="hq", address="서울특별시 강남구 테헤란로 1")
    db.session.add(hq)
    _place(hq, None)
    regions = {}
    for code, name in REGIONS:
        regions[code] = OrgUnit(code=code, name=name, kind="region", parent_id=hq.id)
        db.session.add(regions[code])
        _place(regions[code], hq)
    branches = {}
    for i, (code, name, region) in enumerate(BRANCHES):
        unit = OrgUnit(code=code, name=name, kind="branch", parent_id=regions[region].id,
                       phone=f"02-{555 + i:03d}-{1000 + i * 7:04d}")
        db.session.add(unit)
        _place(unit, regions[region])
        branches[code] = unit
    groups, partners = {}, []
    for g_index, (code, name) in enumerate(GROUPS):
        group = PartnerGroup(code=code, name=name, region_id=regions[REGIONS[g_index % 3][0]].id)
        db.session.add(group)
        db.session.flush()
        groups[code] = group
        seq = 0

        def add(level: str, sponsor: Partner | None, group=group, code=code) -> Partner:
            nonlocal seq
            seq += 1
            p = Partner(group_id=group.id, code=f"{code}-{seq:04d}", name=_name(rng), level=level,
                        sponsor_id=sponsor.id if sponsor else None,
                        joined_on=start - timedelta(days=rng.randint(0, 2000)),
                        phone=f"010{rng.randint(10000000, 99999999)}")
            db.session.add(p)
            _place(p, sponsor)
            partners.append(p)
            return p

        top = add("top_leader", None)
        for _ in range(3):
            leader = add("leader", top)
            for _ in range(rng.choice((2, 3, 3, 4))):
                add("distributor", leader)
    return branches, groups, partners


def _catalogue() -> tuple[list[Category], list[Product]]:
    categories, products = [], []
    for code, ko, en in CATEGORIES:
        cat = Category(code=code, name_ko=ko, name_en=en)
        db.session.add(cat)
        categories.append(cat)
    db.session.flush()
    for cat in categories:
        for i, (name, price) in enumerate(PRODUCTS[cat.code], start=1):
            p = Product(sku=f"{cat.code[:3].upper()}-{i:03d}", name=name, category_id=cat.id, unit_price=price)
            db.session.add(p)
            products.append(p)
    db.session.flush()
    return categories, products


def _accounts(branches: dict[str, OrgUnit], groups: dict[str, PartnerGroup], partners: list[Partner]) -> None:
    pw_hash = hash_password(DEMO_PASSWORD)
    by_code = {p.code: p for p in partners}
    for email, name, roles, local in DEMO_ACCOUNTS:
        partner = by_code.get(local[1]) if local and local[0] == "partner" else None
        user = create_user(email, name, DEMO_PASSWORD, roles=roles, password_hash=pw_hash, partner=partner)
        if local:
            kind, code, role = local
            target = {"branch": branches.get(code), "group": groups.get(code), "partner": by_code.get(code)}[kind]
            grant_local(user, role, target)


def _first_purchases(rng: random.Random, count: int, start: date, end: date) -> list[date | None]:
    """Each customer's first purchase day, uniform over the history; ``None``: never bought."""
    span = (end - start).days
    return [None if rng.random() < NEVER_BOUGHT else start + timedelta(days=rng.randint(0, span))
            for _ in range(count)]


def _customers(rng: random.Random, timing: random.Random, count: int, branches: dict[str, OrgUnit], partners: list[Partner],
               echo: Callable[[str], None], first_days: list[date | None], start: date, end: date) -> int:
    branch_list = list(branches.values())
    start_id = (db.session.execute(select(func.max(Customer.id))).scalar() or 0) + 1
    sellers = [p for p in partners]
    span = (end - start).days
    batch, consents, issues, households = [], [], [], []
    household_id = (db.session.execute(select(func.max(Household.id))).scalar() or 0)
    for n in range(count):
        cid = start_id + n
        surname = rng.choice(SURNAMES)
        name = surname + rng.choice(GIVEN_FIRST) + rng.choice(GIVEN_SECOND)
        city, districts, zip_head = rng.choice(CITIES)
        roll = rng.random()
        phone = f"010{rng.randint(10000000, 99999999)}" if roll > 0.03 else None
        address = f"{city} {rng.choice(districts)} {rng.choice(STREETS)} {rng.randint(1, 400)}"
        postal = f"{zip_head}{rng.randint(0, 9999):04d}"
        if rng.random() < 0.03:
            address = ""  # returned mail: empty address
        if rng.random() < 0.02:
            postal = postal[:3]
        email = f"{ROMAN.get(surname, 'user')}{cid}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.55 else None
        owner = rng.random()
        branch = rng.choice(branch_list) if owner < 0.75 else None
        partner = rng.choice(sellers) if owner > 0.6 else None
        # Registered at the counter on the day of the first purchase (a non-buyer: any day).
        joined = first_days[n] or start + timedelta(days=timing.randint(0, span))
        created = datetime.combine(joined, datetime.min.time()) + timedelta(hours=10, minutes=timing.randint(0, 600))
        batch.append({
            "id": cid, "code": f"C{cid:07d}", "name": name, "phone": phone, "email": email, "address": address or None,
            "postal_code": postal, "birth_date": date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            "gender": rng.choice("FFFM"), "branch_id": branch.id if branch else None,
            "partner_id": partner.id if partner else None, "complaint": rng.random() < 0.02,
            "created_at": created, "updated_at": created,
        })
        if phone is None:
            issues.append({"customer_id": cid, "field": "phone", "reason": "유효한 전화번호 없음"})
        if not address:
            issues.append({"customer_id": cid, "field": "address", "reason": "반송 우편: 주소 없음"})
        if len(postal) != 5:
            issues.append({"customer_id": cid, "field": "postal_code", "reason": "우편번호가 5자리가 아님"})
        # Consent asked at registration; some renewed it later (the newest record counts).
        renewal = rng.randint(0, 1300) / 1300  # the draw the consent date always took
        at = created if timing.random() < 0.7 else created + timedelta(days=int(renewal * (end - joined).days))
        for channel in ("sms", "email", "dm"):
            if rng.random() < 0.6:
                consents.append({"customer_id": cid, "channel": channel, "purpose": "marketing",
                                 "granted": rng.random() < 0.85, "method": rng.choice(("store", "paper", "web")),
                                 "recorded_at": at})
        if rng.random() < 0.04 and len(batch) >= 2:  # pair with the previous row of this batch
            household_id += 1
            households.append({"id": household_id, "name": f"{surname}씨 가족"})
            batch[-1]["household_id"] = household_id
            batch[-2]["household_id"] = household_id
        if len(batch) >= 5000:
            _flush_customers(batch, consents, issues, households)
            echo(f"customers: {n + 1}/{count}")
    _flush_customers(batch, consents, issues, households)
    sync_sequences("customer", "household")
    db.session.commit()
    return count


def _flush_customers(batch: list, consents: list, issues: list, households: list) -> None:
    if households:
        db.session.execute(insert(Household), households)
    for row in batch:
        row.setdefault("household_id", None)
    if batch:
        db.session.execute(insert(Customer), batch)
    if consents:
        db.session.execute(insert(Consent), consents)
    if issues:
        db.session.execute(insert(QualityIssue), issues)
    for lst in (batch, consents, issues, households):
        lst.clear()


def _simulate_visits(rng: random.Random, first_days: list[date | None], end: date,
                     target_visits: float) -> list[list[date]]:
    """Each customer's purchase days: a first purchase, then visits at their own rate until they leave.

    Pareto/NBD's story, drawn exactly: visit rate λ ~ Gamma(RATE_SHAPE) per week, lifetime
    τ ~ Exponential(μ) with μ ~ Gamma(LIFE_SHAPE, rate LIFE_RATE) (about a year on average);
    repeat visits are a Poisson process of rate λ over (first day, min(first day + τ, end)].
    The rates are scaled so that the expected number of visits is ``target_visits``, which keeps
    the number of lines about what the caller asked for whatever the day (never below one visit
    per buyer: asking for fewer lines than buyers gets one-time buyers only). Same-day visits collapse.
    """
    base = [rng.gammavariate(RATE_SHAPE, 1.0) for _ in first_days]
    lifetimes = [rng.expovariate(rng.gammavariate(LIFE_SHAPE, 1.0 / LIFE_RATE)) for _ in first_days]
    exposure = [0.0 if first is None else min(life, (end - first).days / 7.0)
                for first, life in zip(first_days, lifetimes, strict=True)]
    buyers = sum(first is not None for first in first_days)
    weighted = sum(g * e for g, e in zip(base, exposure, strict=True))
    scale = max(target_visits - buyers, 0.0) / weighted if weighted > 0 else 0.0
    out: list[list[date]] = []
    for first, g, weeks in zip(first_days, base, exposure, strict=True):
        if first is None:
            out.append([])
            continue
        days, rate, t = [first], g * scale, 0.0
        while rate > 0:
            t += rng.expovariate(rate)
            if t > weeks:
                break
            day = first + timedelta(days=math.floor(t * 7.0))
            if day != days[-1]:
                days.append(min(day, end))
        out.append(days)
    return out


def _sales(rng: random.Random, count: int, categories: list[Category], products: list[Product],
           echo: Callable[[str], None], first_days: list[date | None], end: date) -> int:
    rows = db.session.execute(select(Customer.id, Customer.branch_id, Customer.partner_id).order_by(Customer.id)).all()
    if not rows:
        return 0
    rows = rows[-len(first_days):]  # the customers this load created, in creation order
    by_cat: dict[int, list[Product]] = {}
    for p in products:
        by_cat.setdefault(p.category_id, []).append(p)
    visits = _simulate_visits(rng, first_days, end, count / (sum(LINES_PER_VISIT) / len(LINES_PER_VISIT)))
    dip = _category_dip(categories)
    lines, reports = [], {}
    next_report = (db.session.execute(select(func.max(SalesReport.id))).scalar() or 0) + 1
    receipt = 0
    for (cid, branch_id, partner_id), days in zip(rows, visits, strict=True):
        for sold in days:
            receipt += 1
            report_id = None
            if branch_id is not None:
                key = (branch_id, sold)
                if key not in reports:
                    reports[key] = next_report
                    next_report += 1
                report_id = reports[key]
            for _ in range(rng.choice(LINES_PER_VISIT)):
                cat = rng.choices(categories, weights=CATEGORY_WEIGHTS)[0]
                product = rng.choice(by_cat[cat.id])
                qty = rng.choice((1, 1, 1, 1, 2, 2, 3))
                if dip and cat.id == dip[0] and partner_id in dip[2] and (cid * 7 + receipt) % 10 < WEAK_SHARE_TENTHS:
                    cat = dip[1]  # the group buys the product next to it on the shelf instead
                    product = by_cat[cat.id][by_cat[dip[0]].index(product) % len(by_cat[cat.id])]
                lines.append({"report_id": report_id, "customer_id": cid, "branch_id": branch_id,
                              "partner_id": partner_id, "product_id": product.id, "category_id": cat.id,
                              "receipt_no": f"R{sold:%y%m%d}-{receipt % 100000:05d}", "sold_at": sold,
                              "quantity": qty, "unit_price": product.unit_price, "amount": qty * product.unit_price})
    report_rows = [{"id": rid, "branch_id": b, "report_date": d, "status": "committed", "file_name": f"판매일보_{d:%Y%m%d}.csv",
                    "source": "demo", "mode": "strict",
                    "created_at": datetime.combine(d, datetime.min.time()) + timedelta(hours=21)}
                   for (b, d), rid in reports.items()]
    per_report: dict[int, int] = {}
    amount_per_report: dict[int, int] = {}
    for line in lines:
        if line["report_id"]:
            per_report[line["report_id"]] = per_report.get(line["report_id"], 0) + 1
            amount_per_report[line["report_id"]] = amount_per_report.get(line["report_id"], 0) + line["amount"]
    for r in report_rows:
        r["rows"] = r["accepted"] = per_report.get(r["id"], 0)
        r["total_amount"] = amount_per_report.get(r["id"], 0)
    for i in range(0, len(report_rows), 5000):
        db.session.execute(insert(SalesReport), report_rows[i:i + 5000])
    for i in range(0, len(lines), 20000):
        db.session.execute(insert(SaleLine), lines[i:i + 20000])
        echo(f"sale lines: {min(i + 20000, len(lines))}/{len(lines)}")
    sync_sequences("sales_report")
    refresh_customer_totals()
    db.session.commit()
    return len(lines)


def _category_dip(categories: list[Category]) -> tuple[int, Category, set[int]] | None:
    """The demo's story (Amway Korea's PRM case): group A — here G01 — is weak in health food
    compared with the other groups. Some of its customers' health-food lines are drawn as home-care
    lines instead: decided by a hash of the customer and receipt, never by the random streams, so
    every other customer and line stays exactly as before. (weak category id, substitute, partner ids)"""
    by_code = {c.code: c for c in categories}
    weak, instead = by_code.get(WEAK_CATEGORY[1]), by_code.get(WEAK_CATEGORY[2])
    if weak is None or instead is None:
        return None
    partners = set(db.session.execute(select(Partner.id).join(PartnerGroup, PartnerGroup.id == Partner.group_id)
                                      .where(PartnerGroup.code == WEAK_CATEGORY[0])).scalars())
    return (weak.id, instead, partners) if partners else None


def _install_demo_plugins(echo: Callable[[str], None]) -> None:
    from ..plugins_lifecycle import PluginError, install, states

    for state in states():
        if not state["installed"]:
            try:
                install(state["name"], profile="demo")
            except PluginError as exc:
                echo(f"add-on {state['name']}: {exc}")
            else:
                echo(f"add-on {state['name']}: installed with demo data")


def demo_user(email: str) -> User:
    return db.session.execute(select(User).where(User.email == email)).scalar_one()
