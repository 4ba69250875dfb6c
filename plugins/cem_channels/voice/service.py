"""Message sets: validating the master, rendering and previewing every rendition for one sample
customer (with the ad-law wrapper, as it will be sent), the revision hash, and
:func:`check_approvable`, the list of problems that block approval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import LawViolation, compose_for, compose_marketing, db, legal_settings, revision_hash

from .banned import check_banned
from .lint import lint_renditions
from .problems import ERROR, Problem
from .render import MASTER_FIELDS, RenderError, master_context, render_text

CHANNELS = ("email", "sms", "kakao", "push", "dm")
SAMPLE_CUSTOMER = {"name": "김민수", "branch": "강남점", "tier": "gold"}
PREVIEW_UNSUBSCRIBE = "https://example.invalid/unsubscribe/preview"


def normalise_master(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """The master as stored (``price`` an int of won, dates ISO text) and what is wrong with it."""
    master: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in MASTER_FIELDS:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name == "price":
            text = str(value).replace(",", "").replace("원", "").replace("₩", "").strip()
            if isinstance(value, bool) or not text.isdigit():
                problems.append(Problem("master_invalid", ERROR, "master", name,
                                        params={"name": name, "detail": _l("not a whole number of won")}))
                continue
            master[name] = int(text)
        elif name in ("valid_from", "valid_until"):
            try:
                master[name] = (value if isinstance(value, date) else date.fromisoformat(str(value).strip())).isoformat()
            except ValueError:
                problems.append(Problem("master_invalid", ERROR, "master", name,
                                        params={"name": name, "detail": _l("not a date (YYYY-MM-DD)")}))
        else:
            master[name] = str(value).strip()
    if "valid_from" in master and "valid_until" in master and master["valid_from"] > master["valid_until"]:
        problems.append(Problem("master_invalid", ERROR, "master", "valid_until",
                                params={"name": "valid_until", "detail": _l("before the start of validity")}))
    return master, problems


def set_revision(message_set: Any) -> str:
    """The toolkit's ``revision_hash`` of name, category, master and renditions (stored on the set)."""
    data = {"name": message_set.name, "category": message_set.category, "master": dict(message_set.master or {}),
            "renditions": sorted(([r.channel, r.subject or "", r.body or "", r.html or ""]
                                  for r in message_set.renditions), key=lambda x: x[0])}
    message_set.revision = revision_hash(data)
    return message_set.revision


@dataclass
class RenderedRendition:
    """One rendition as rendered for a sample customer, before and after the ad-law wrapper."""

    channel: str
    subject: str | None = None
    body: str = ""
    html: str | None = None
    composed_subject: str | None = None
    composed_body: str | None = None
    composed_html: str | None = None
    sms_class: str | None = None  # "sms" / "lms" (sms channel)
    size: int | None = None  # CP949 bytes (sms channel)
    problems: list[Problem] = field(default_factory=list)


def render_rendition(rendition: Any, master: Mapping[str, Any], customer: Mapping[str, Any]) -> RenderedRendition:
    """Render subject, body and html; problems instead of exceptions."""
    get = (lambda n: rendition.get(n)) if isinstance(rendition, Mapping) else (lambda n: getattr(rendition, n))
    channel = get("channel")
    out = RenderedRendition(channel=channel)
    context = {**master_context(master, channel), "customer": dict(customer)}
    for name in ("subject", "body", "html"):
        source = get(name)
        if source is None:
            continue
        try:
            setattr(out, name, render_text(source, context, html=(name == "html"), rendition=channel, field=name))
        except RenderError as exc:
            out.problems.append(exc.problem)
    return out


def _compose(rendered: RenderedRendition, customer: Mapping[str, Any]) -> None:
    customer_id = customer.get("id")
    try:
        if isinstance(customer_id, int):
            composed = compose_for(rendered.channel, customer_id, subject=rendered.subject, body=rendered.body,
                                   html=rendered.html)
        else:  # a made-up sample customer: the portal's settings and a placeholder unsubscribe link
            settings = legal_settings()
            extra: dict[str, Any] = {}
            if rendered.channel in ("email", "dm"):
                extra["unsubscribe_url"] = PREVIEW_UNSUBSCRIBE
            if rendered.channel == "email" and settings["unsubscribe_mailto"]:
                extra["unsubscribe_mailto"] = settings["unsubscribe_mailto"]
            composed = compose_marketing(rendered.channel, subject=rendered.subject, body=rendered.body,
                                         html=rendered.html, sender_name=settings["sender_name"],
                                         sender_contact=settings["sender_contact"],
                                         sender_address=settings["sender_address"],
                                         optout_number=settings["optout_number"], **extra)
    except LawViolation as exc:
        rendered.problems.append(Problem("law", ERROR, rendered.channel, params={"detail": str(exc)}))
        return
    rendered.composed_subject, rendered.composed_body = composed.subject, composed.body
    rendered.composed_html, rendered.sms_class, rendered.size = composed.html, composed.sms_class, composed.size


def preview(message_set: Any, customer: Mapping[str, Any] | None = None, *, marketing: bool = True
            ) -> list[RenderedRendition]:
    """Every rendition rendered for ``customer`` (a dict of customer fields, ``id`` optional),
    side by side in channel order; for marketing, wrapped as it will be sent (ad label, sender,
    opt-out, SMS/LMS byte class). Needs an app context for the legal settings."""
    customer = customer if customer is not None else SAMPLE_CUSTOMER
    master = dict(message_set.master or {})
    out = []
    for r in sorted(message_set.renditions, key=lambda r: CHANNELS.index(r.channel) if r.channel in CHANNELS else 99):
        rendered = render_rendition(r, master, customer)
        if marketing and not rendered.problems:
            _compose(rendered, customer)
        out.append(rendered)
    return out


def banned_terms_for(category: str | None) -> list[str]:
    """HQ's banned terms for ``category`` (none without a category)."""
    if not category:
        return []
    from ..voice_models import CemBannedTerm

    rows = db.session.scalars(db.select(CemBannedTerm.term).where(CemBannedTerm.category == category)
                              .order_by(CemBannedTerm.term))
    return list(rows)


def check_approvable(message_set: Any, *, terms: Iterable[str] | None = None,
                     customer: Mapping[str, Any] | None = None) -> list[Problem]:
    """Everything that blocks approval (level ``error``), then the rest (warnings, suggestions):
    an invalid master, no renditions, a rendition that does not render for the sample customer,
    a literal price or date that differs from the master, a banned term of the set's category.
    ``terms`` defaults to the category's list in ``cem_banned_term``. Approvable when no problem
    has level ``error``."""
    master, problems = normalise_master(message_set.master or {})
    renditions = list(message_set.renditions)
    if not renditions:
        problems.append(Problem("no_renditions", ERROR))
    for r in renditions:
        problems += render_rendition(r, master, customer or SAMPLE_CUSTOMER).problems
    problems += lint_renditions(renditions, master)
    terms = banned_terms_for(message_set.category) if terms is None else list(terms)
    problems += check_banned(renditions, master, message_set.category, terms)
    return sorted(problems, key=lambda p: p.level != ERROR)


def blocking(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that block approval."""
    return [p for p in problems if p.level == ERROR]
