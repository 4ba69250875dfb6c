"""Helpers for the content tests (import them): a G01 programme with one e-mail + DM message step
built straight on the models (independent of the programme service), revisions through the
content service, a Group Leader of G02, submit/approve through the core workflow."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

PASSWORD = "demo-pass-2026"
EMAILS = {"hq": "hq@example.com", "leader1": "leader1@example.com", "store1": "store1@example.com",
          "ibo1": "ibo1@example.com", "admin": "admin@example.com"}
CONTENT = {"signer": "김한빛",
           "email": {"subject": "{{ customer.name }}님, 건강 챙기고 계신가요?",
                     "body": "{{ customer.name }}님 안녕하세요.\n요즘 우리 그룹이 함께 건강식품을 챙기기 시작했습니다.\n"
                             "이번 세미나에서 만나요."},
           "dm": {"body": "{{ customer.name }}님, 함께 건강을 챙겨요. {{ signer }} 드림"}}


def users() -> SimpleNamespace:
    from portal.toolkit import User, db

    found = {u.email: u for u in db.session.scalars(db.select(User).where(User.email.in_(EMAILS.values())))}
    return SimpleNamespace(**{k: found[v] for k, v in EMAILS.items()})


def group(code: str) -> Any:
    from portal.toolkit import PartnerGroup, db

    return db.session.scalar(db.select(PartnerGroup).where(PartnerGroup.code == code))


def leader_of(code: str, email: str | None = None) -> Any:
    """A new user holding Group Leader on group ``code`` (password ``PASSWORD``)."""
    from portal.toolkit import GROUP_LEADER, db
    from portal.users.service import create_user, grant_local

    u = create_user(email or f"leader-{code.lower()}@example.com", f"리더 {code}", PASSWORD)
    grant_local(u, GROUP_LEADER, group(code))
    db.session.commit()
    return u


def make_programme(code: str = "G01", *, channels: tuple[str, ...] = ("email", "dm"), content: dict | None = None,
                   name: str = "G01 건강식품 지원") -> Any:
    """A draft programme for group ``code`` in 건강식품 with a message step (revision 1 by HQ) and a
    seminar step; committed."""
    from plugins.prm_groups.models import PrmProgramme, PrmStep
    from plugins.prm_groups.programmes.content import add_revision
    from portal.toolkit import Category, Partner, db

    g = group(code)
    top = db.session.scalar(db.select(Partner.id).where(Partner.group_id == g.id, Partner.sponsor_id.is_(None))
                            .order_by(Partner.id).limit(1))
    health = db.session.scalar(db.select(Category).where(Category.code == "health"))
    p = PrmProgramme(name=name, partner_group_id=g.id, partner_id=top, category_id=health.id,
                     baseline_start=date(2026, 1, 1), baseline_end=date(2026, 6, 30), run_start=date(2027, 1, 4),
                     run_end=date(2027, 2, 28), measure_start=date(2027, 1, 4), measure_end=date(2027, 3, 30),
                     design=["holdout", "did_vs_groups"], holdout_share=0.1, seed=42, target_mde=0.03,
                     created_by_id=users().hq.id)
    p.steps = [PrmStep(position=1, kind="message", title="리더 편지", channels=list(channels)),
               PrmStep(position=2, kind="seminar_series", title="건강 세미나", channels=[], completion_min=2)]
    db.session.add(p)
    db.session.flush()
    add_revision(p, p.steps[0], content or CONTENT, users().hq)
    db.session.commit()
    return p


def fire(p: Any, name: str, actor: Any, comment: str = "", revision: str | None = None) -> None:
    from plugins.prm_groups.programmes.content_views import fire as fire_
    from portal.toolkit import db

    fire_(p, name, actor, comment, revision)
    db.session.commit()


def approve(p: Any, actor: Any, note: str = "") -> None:
    from portal.toolkit import current_revision

    fire(p, "approve", actor, note, current_revision(p))
