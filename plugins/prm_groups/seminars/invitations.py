"""Invitations to a seminar series "by conditions".

The invitees are the programme group's customers who match the series step's rules (core
segment rules, compiled in the actor's scope), who are in the programme's **treatment** arm (the
holdout receives no step of the programme: core field ``experiment.arm``), and who may be
contacted by e-mail for marketing now. Each gets one ``prm_invitation`` with a random URL-safe
token — the key to their page without login — and one marketing e-mail through the core outbox
(the advertising law is applied at queue time; source ``prm_groups``, ``programme:<id>``, so the
experiment's holdout check runs again at send time). The core outbox has no attachments, so the
e-mail links the series' ``.ics`` download instead of attaching it.

Rule ``{"field": "prm.step_engagement", "op": "eq", "value": "1:opened_or_clicked"}`` ("opened or
clicked step 1") is translated into cem_channels' ``cem.engagement`` field with step 1's campaign
id (``"<campaign id>:opened_or_clicked"``); the step must have been sent.

Set-based: one SELECT of (customer, distributor) pairs not yet invited, the consent check in
chunks of 10,000 ids, inserts of 2,000 rows with ``ON CONFLICT DO NOTHING`` — re-inviting adds
only the new matches, also when two people press "invite" at once.
"""

from __future__ import annotations

import copy
import re
import secrets
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.toolkit import (
    Customer,
    PartnerGroup,
    RuleError,
    chunked,
    contactable,
    db,
    dialect_insert,
    id_in,
    queue_many,
    segment_query,
    utcnow,
)

from ..models import RUNNING, PrmProgramme, PrmStep
from ..programmes import ProgrammeError
from ..seminar_models import INVITED, PrmInvitation
from .registration import public_url

ENGAGEMENT_FIELD = "prm.step_engagement"
CEM_ENGAGEMENT_FIELD = "cem.engagement"
ENGAGEMENTS = ("opened", "clicked", "opened_or_clicked", "delivered")
INSERT_CHUNK = 2000  # 7 columns a row: 14,000 parameters, under SQLite's 32,766
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")


def translate_rules(programme: PrmProgramme, rules: Any, path: str = "rules") -> Any:
    """``rules`` with every ``prm.step_engagement`` condition replaced by cem's engagement field
    for that step's campaign (422 with the condition's path when the step is unknown, not a
    message step, or not sent yet)."""
    if rules is None:
        return None
    steps = {s.position: s for s in programme.steps}

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, list):
            return [walk(n, f"{where}[{i}]") for i, n in enumerate(node)]
        if not isinstance(node, dict):
            return node
        raw = str(node.get("value", ""))
        if node.get("field") == CEM_ENGAGEMENT_FIELD and raw.startswith("step:"):
            raw = raw[len("step:"):]  # the launch's spelling: {"field": "cem.engagement", "value": "step:1:opened"}
        elif node.get("field") != ENGAGEMENT_FIELD:
            return {k: walk(v, f"{where}.{k}") for k, v in node.items()}
        position, _, what = raw.partition(":")
        step = steps.get(int(position)) if position.strip().isdigit() else None
        if step is None or step.kind != "message" or what not in ENGAGEMENTS:
            raise ProgrammeError({f"{where}.value": str(_l(
                "Expected “<message step number>:opened|clicked|opened_or_clicked|delivered”, e.g. 1:opened_or_clicked."))})
        if step.campaign_id is None:
            raise ProgrammeError({f"{where}.value": str(_l(
                "Step %(n)d has not been sent yet; invite after it went out.", n=step.position))}, 409)
        return {"field": CEM_ENGAGEMENT_FIELD, "op": node.get("op", "eq"), "value": f"{step.campaign_id}:{what}"}

    return walk(copy.deepcopy(rules), path)


def audience_rules(programme: PrmProgramme, step: PrmStep) -> dict[str, Any]:
    """The group, the treatment arm and the step's own (translated) rules, as one rule set."""
    group_code = db.session.scalar(select(PartnerGroup.code).where(PartnerGroup.id == programme.partner_group_id))
    conditions: list[Any] = [{"field": "partner_group", "op": "eq", "value": group_code},
                             {"field": "experiment.arm", "op": "eq", "value": f"{programme.experiment_id}:treatment"}]
    own = translate_rules(programme, step.rules)
    if own:
        conditions.append(own)
    return {"all": conditions}


def candidates(programme: PrmProgramme, step: PrmStep, actor: Any) -> list[tuple[int, int | None]]:
    """(customer id, distributor id) of the matching treatment customers not invited yet."""
    try:
        seg = segment_query(actor, audience_rules(programme, step))
    except RuleError as exc:
        raise ProgrammeError({f"steps[{step.position - 1}].{p.path}": str(p.message) for p in exc.problems}) from exc
    already = select(PrmInvitation.customer_id).where(PrmInvitation.step_id == step.id,
                                                      PrmInvitation.customer_id.is_not(None))
    q = seg.select(Customer.id, Customer.partner_id).where(Customer.id.not_in(already)).order_by(Customer.id)
    return [(r[0], r[1]) for r in db.session.execute(q)]


def invite(programme: PrmProgramme, step: PrmStep, actor: Any, *, now: datetime | None = None) -> int:
    """Invite the step's audience (see the module docstring); returns how many new invitations.
    Refused (409) unless the programme is running and ``step`` is its seminar series; 422 for
    rules that do not compile. Flushes and queues in the caller's transaction."""
    now = now or utcnow()
    if step.programme_id != programme.id or step.kind != "seminar_series":
        raise ProgrammeError({"step": str(_l("Not a seminar series of this programme."))}, 404)
    if programme.state != RUNNING or programme.experiment_id is None:
        raise ProgrammeError({"state": str(_l("Invitations go out only while the programme is running."))}, 409)
    pairs = candidates(programme, step, actor)
    if not pairs:
        return 0
    owner = dict(pairs)
    allowed = contactable(list(owner), "email", "marketing")
    if not allowed:
        return 0
    created: list[int] = []
    table = PrmInvitation.__table__
    for chunk in chunked(allowed, INSERT_CHUNK):
        tokens = {cid: secrets.token_urlsafe(32) for cid in chunk}
        rows = [{"programme_id": programme.id, "step_id": step.id, "customer_id": cid, "partner_id": owner.get(cid),
                 "token": token, "status": INVITED, "invited_at": now} for cid, token in tokens.items()]
        db.session.execute(dialect_insert(table).values(rows).on_conflict_do_nothing())
        # Ours are the rows holding the tokens we drew (a concurrent invite's rows are theirs to send).
        created.extend(cid for cid, token in db.session.execute(select(PrmInvitation.customer_id, PrmInvitation.token)
                       .where(PrmInvitation.step_id == step.id, id_in(PrmInvitation.customer_id, chunk)))
                       if tokens.get(cid) == token)
    _queue_invitations(programme, step, created)
    return len(created)


def invitation_text(programme: PrmProgramme, step: PrmStep) -> tuple[str, str]:
    """Subject and body (before the link) of the invitation e-mail: the series and its sessions."""
    from .sessions import sessions_of, to_seoul

    lines = [str(_l("You are invited to the seminar series “%(title)s”.", title=step.title or programme.name)), ""]
    for s in sessions_of(step):
        if s.cancelled_at is not None:
            continue
        when = to_seoul(s.starts_at)
        lines.append(f"- {when:%Y-%m-%d %H:%M} {s.title}")
    lines += ["", str(_l("Choose your sessions and register here (no login needed):"))]
    subject = str(_l("Seminar invitation: %(title)s", title=step.title or programme.name))
    return subject, "\n".join(lines)


def _queue_invitations(programme: PrmProgramme, step: PrmStep, customer_ids: list[int]) -> int:
    if not customer_ids:
        return 0
    subject, text = invitation_text(programme, step)
    cal = str(_l("Add the seminars to your calendar:"))
    total = 0
    for chunk in chunked(customer_ids, INSERT_CHUNK):
        tokens = dict(db.session.execute(select(PrmInvitation.customer_id, PrmInvitation.token).where(
            PrmInvitation.step_id == step.id, id_in(PrmInvitation.customer_id, chunk))).all())
        rows = [{"channel": "email", "purpose": "marketing", "customer_id": cid, "subject": subject,
                 "body": f"{text}\n{public_url(tokens[cid])}\n\n{cal}\n{public_url(tokens[cid])}/calendar.ics",
                 "idempotency_key": f"prm:invite:{step.id}:{cid}", "source": "prm_groups",
                 "source_object": f"programme:{programme.id}"} for cid in chunk if cid in tokens]
        total += queue_many(rows)
    return total


def invitation_by_token(token: str) -> PrmInvitation | None:
    """The invitation of a registration link (None for an unknown, malformed or erased token)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 64 or not _TOKEN_RE.fullmatch(token):
        return None  # retired (erased, merged) tokens contain ':' and never match
    return db.session.scalar(select(PrmInvitation).where(PrmInvitation.token == token))


def due_series(now: datetime | None = None) -> list[tuple[PrmProgramme, PrmStep]]:
    """Running programmes' seminar series whose day has come (run start + the step's offset, in
    Seoul) and that still have a session open for registration."""
    from datetime import UTC, timedelta

    from sqlalchemy import or_

    from ..seminar_models import PrmSession
    from .sessions import SEOUL

    now = now or utcnow()
    today = now.replace(tzinfo=UTC).astimezone(SEOUL).date()
    open_session = (select(PrmSession.id).where(PrmSession.step_id == PrmStep.id, PrmSession.cancelled_at.is_(None),
                                                or_(PrmSession.registration_deadline > now,
                                                    PrmSession.registration_deadline.is_(None) & (PrmSession.starts_at > now)))
                    .exists())
    rows = db.session.execute(select(PrmProgramme, PrmStep).join(PrmStep, PrmStep.programme_id == PrmProgramme.id)
                              .where(PrmProgramme.state == RUNNING, PrmProgramme.experiment_id.is_not(None),
                                     PrmStep.kind == "seminar_series", open_session)
                              .order_by(PrmProgramme.id)).all()
    return [(p, s) for p, s in rows if p.run_start + timedelta(days=s.offset_days or 0) <= today]


def send_due_invitations(now: datetime | None = None) -> dict[str, int]:
    """The daily job: invite the new matches of every due series, as the programme's creator
    (whose customer scope the rules are compiled in). One programme per transaction; a refused
    one (step 1 not sent yet, the creator gone) is logged and left for the next day."""
    from flask import current_app

    from portal.toolkit import User

    done = {"programmes": 0, "invited": 0, "skipped": 0}
    for programme, step in due_series(now):
        actor = db.session.get(User, programme.created_by_id) if programme.created_by_id else None
        if actor is None or not actor.is_active:
            current_app.logger.warning("prm: programme %s has no active creator to invite as", programme.id)
            done["skipped"] += 1
            continue
        try:
            n = invite(programme, step, actor, now=now)
            db.session.commit()
        except ProgrammeError as exc:
            db.session.rollback()
            current_app.logger.info("prm: invitations of programme %s not sent yet: %s", programme.id, exc)
            done["skipped"] += 1
            continue
        done["programmes"] += 1
        done["invited"] += n
    return done
