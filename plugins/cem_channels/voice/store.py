"""Message sets as records: who sees and edits which set, and create / update / delete with the
checks of the one-voice service, so the pages and the API write through one door.

Scope (``cem.compose``): global holders (HQ) see and edit every set; branch staff see their
branch's sets (``org_unit_id`` in their subtree) and edit them; group leaders the same for their
group (``partner_group_id``). A set with neither is HQ's shared set: everybody who composes reads
it, only global holders change it. Out of scope = 404, read-only = 403.

A save is refused as a whole (nothing written) with field names when the master is invalid, a
rendition does not render (syntax, undefined variable, sandbox — CE-21) or a literal price or date
differs from the master (CE-31). Banned terms do not block a save: they block approval
(``check_approvable``) and show highlighted in the preview.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from flask import abort
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from portal.toolkit import (
    Customer,
    LawViolation,
    OrgUnit,
    PartnerGroup,
    audit,
    content_changed,
    cp949_len,
    db,
    has_global_permission,
    has_permission,
    id_or_404,
    not_found_message,
    register_scoped,
    scope_filter,
    sms_class,
)

from ..campaign_models import CemCampaignStep, CemCampaignVariant
from ..permissions import COMPOSE
from ..voice_models import CemMessageSet, CemRendition
from .lint import lint_renditions
from .problems import ERROR, Problem
from .render import MASTER_FIELDS
from .service import CHANNELS, SAMPLE_CUSTOMER, normalise_master, preview, render_rendition, set_revision

register_scoped(CemMessageSet, branch_attr="org_unit_id")  # the branch half of the scope; groups below

FIELDS = ("name", "category", "master", "renditions", "place")
RENDITION_FIELDS = {"email": ("subject", "body", "html"), "sms": ("body",), "kakao": ("body",), "push": ("subject", "body"),
                    "dm": ("body",)}
LIMITS = {"name": 200, "category": 100, "subject": 500, "body": 20_000, "html": 100_000, "master": 1000}
MAX_PRICE = 100_000_000_000  # 1,000억 원: far above any offer, far below what JSON or Jinja would mangle


class SetError(ValueError):
    """A refused write: ``errors`` maps a field (``name``, ``master.price``, ``renditions.sms.body``)
    to a message in the reader's language; ``status`` 422 (invalid), 403 (read-only), 409 (in use)."""

    def __init__(self, errors: dict[str, str], status: int = 422, problems: list[Problem] | None = None) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors, self.status, self.problems = errors, status, problems or []


# -- scope ------------------------------------------------------------------------------------------


def _group_ids(user: Any) -> list[int]:
    """Partner groups where ``user`` composes through a local role (few rows, on the user)."""
    return sorted({lr.partner_group_id for lr in getattr(user, "local_roles", []) or []
                   if lr.partner_group_id is not None and has_permission(user, COMPOSE, lr.partner_group)})


def _unit_grants(user: Any) -> list[Any]:
    return [lr.org_unit for lr in getattr(user, "local_roles", []) or []
            if lr.org_unit is not None and has_permission(user, COMPOSE, lr.org_unit)]


def editable_condition(user: Any) -> ColumnElement[bool]:
    """SQL: the sets ``user`` may change."""
    if has_global_permission(user, COMPOSE):
        return true()
    conds: list[ColumnElement[bool]] = [scope_filter(user, COMPOSE, CemMessageSet)]
    groups = _group_ids(user)
    if groups:
        conds.append(CemMessageSet.partner_group_id.in_(groups))
    return or_(*conds)


def visible_condition(user: Any) -> ColumnElement[bool]:
    """SQL: the sets ``user`` may read (their own place's and HQ's shared ones)."""
    if not has_permission(user, COMPOSE):
        return false()
    shared = and_(CemMessageSet.org_unit_id.is_(None), CemMessageSet.partner_group_id.is_(None))
    return or_(editable_condition(user), shared)


def may_edit(user: Any, message_set: CemMessageSet) -> bool:
    if has_global_permission(user, COMPOSE):
        return True
    if message_set.org_unit_id is not None and has_permission(user, COMPOSE, message_set):
        return True
    return message_set.partner_group_id is not None and message_set.partner_group_id in _group_ids(user)


def set_or_404(ident: Any, user: Any) -> CemMessageSet:
    """One set through the scope (missing and out of scope answer alike)."""
    set_id = id_or_404(CemMessageSet, ident)
    found = db.session.execute(select(CemMessageSet).where(CemMessageSet.id == set_id, visible_condition(user))
                               ).scalar_one_or_none()
    if found is None:
        abort(404, description=not_found_message(CemMessageSet))
    return found


def places(user: Any) -> list[tuple[str, str]]:
    """Where ``user`` may put a new set: ``("hq", …)`` for global holders, else ``unit:<id>`` /
    ``group:<id>`` of their grants — (key, label)."""
    if has_global_permission(user, COMPOSE):
        return [("hq", _("HQ (shared with every branch and group)"))]
    out = [(f"unit:{u.id}", f"{u.code} {u.name}") for u in sorted({u.id: u for u in _unit_grants(user)}.values(),
                                                                    key=lambda u: u.code)]
    for gid in _group_ids(user):
        group = db.session.get(PartnerGroup, gid)
        out.append((f"group:{gid}", f"{group.code} {group.name}"))
    return out


def place_label(message_set: CemMessageSet) -> str:
    if message_set.org_unit_id is not None:
        unit = db.session.get(OrgUnit, message_set.org_unit_id)
        return f"{unit.code} {unit.name}" if unit else "-"
    if message_set.partner_group_id is not None:
        group = db.session.get(PartnerGroup, message_set.partner_group_id)
        return f"{group.code} {group.name}" if group else "-"
    return _("HQ (shared)")


# -- validation -------------------------------------------------------------------------------------


def _unstorable(text: str) -> bool:
    return "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _text(errors: dict[str, str], key: str, value: Any, limit: int, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[key] = _("Required.")
        return None
    if not isinstance(value, str):
        errors[key] = _("Text expected.")
        return None
    if len(value) > limit:
        errors[key] = _("At most %(n)s characters.", n=f"{limit:,}")
        return None
    if _unstorable(value):
        errors[key] = _("Remove the characters that cannot be stored (a NUL or a lone surrogate).")
        return None
    return value


def _problem_key(problem: Problem) -> str:
    if problem.rendition == "master":
        return f"master.{problem.field}"
    if problem.rendition in CHANNELS and problem.field:
        return f"renditions.{problem.rendition}.{problem.field}"
    return problem.rendition or "renditions"


def validate(data: Any, user: Any, current: CemMessageSet | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """The writable fields checked and cleaned; raises :class:`SetError` (422) naming every bad
    field. With ``current`` (PATCH) a missing field keeps its stored value."""
    if not isinstance(data, Mapping):
        raise SetError({"": _("Send a JSON object with Content-Type: application/json.")})
    errors: dict[str, str] = {}
    for name in sorted(set(data) - set(FIELDS)):
        errors[name] = _("Unknown field; the writable fields are %(fields)s.", fields=", ".join(FIELDS))
    clean: dict[str, Any] = {}
    if current is None or "name" in data:
        clean["name"] = _text(errors, "name", data.get("name"), LIMITS["name"], required=True)
    else:
        clean["name"] = current.name
    if current is None or "category" in data:
        category = _text(errors, "category", data.get("category"), LIMITS["category"])
        clean["category"] = category.strip() if category else None
    else:
        clean["category"] = current.category
    # master
    raw_master = data.get("master") if (current is None or "master" in data) else dict(current.master or {})
    raw_master = {} if raw_master is None else raw_master
    master: dict[str, Any] = {}
    problems: list[Problem] = []
    if not isinstance(raw_master, Mapping):
        errors["master"] = _("An object with the fields %(fields)s.", fields=", ".join(MASTER_FIELDS))
    else:
        for name in sorted(set(raw_master) - set(MASTER_FIELDS)):
            errors[f"master.{name}"] = _("Unknown field; the master fields are %(fields)s.",
                                         fields=", ".join(MASTER_FIELDS))
        for name in MASTER_FIELDS:
            value = raw_master.get(name)
            if isinstance(value, str):
                _text(errors, f"master.{name}", value, LIMITS["master"])
            elif value is not None and not (name == "price" and isinstance(value, int)):
                errors[f"master.{name}"] = _("Text expected.")
        url = raw_master.get("cta_url")
        if isinstance(url, str) and url.strip() and not url.strip().lower().startswith(("https://", "http://")):
            errors["master.cta_url"] = _("A web address starting with https://.")
        if not any(k.startswith("master.") for k in errors):
            master, master_problems = normalise_master(raw_master)
            for p in master_problems:
                errors.setdefault(_problem_key(p), p.message)
            problems += master_problems
            if isinstance(master.get("price"), int) and master["price"] > MAX_PRICE:
                errors["master.price"] = _("At most %(n)s won.", n=f"{MAX_PRICE:,}")
    clean["master"] = master
    # renditions
    if current is None or "renditions" in data:
        raw_r = data.get("renditions")
        raw_r = {} if raw_r is None else raw_r
    else:
        raw_r = {r.channel: {"subject": r.subject, "body": r.body, "html": r.html} for r in current.renditions}
    renditions: dict[str, dict[str, str | None]] = {}
    if not isinstance(raw_r, Mapping):
        errors["renditions"] = _("An object by channel (%(channels)s).", channels=", ".join(CHANNELS))
    else:
        for channel in sorted(set(raw_r) - set(CHANNELS)):
            errors[f"renditions.{channel}"] = _("Unknown channel; use one of: %(channels)s.",
                                                channels=", ".join(CHANNELS))
        for channel in CHANNELS:
            fields = raw_r.get(channel)
            if fields is None:
                continue
            if not isinstance(fields, Mapping):
                errors[f"renditions.{channel}"] = _("An object with the fields %(fields)s.",
                                                    fields=", ".join(RENDITION_FIELDS[channel]))
                continue
            for name in sorted(set(fields) - set(RENDITION_FIELDS[channel])):
                if fields.get(name):  # (an empty html/subject sent by a generic client is harmless)
                    errors[f"renditions.{channel}.{name}"] = _("Not a field of this channel; use %(fields)s.",
                                                               fields=", ".join(RENDITION_FIELDS[channel]))
            values = {name: _text(errors, f"renditions.{channel}.{name}", fields.get(name), LIMITS[name])
                      for name in RENDITION_FIELDS[channel]}
            if not any(values.values()):
                continue  # an empty rendition is no rendition
            if not values.get("body"):
                errors[f"renditions.{channel}.body"] = _("Required.")
            if channel == "email" and not values.get("subject"):
                errors["renditions.email.subject"] = _("Required.")
            renditions[channel] = values
    clean["renditions"] = renditions
    # place
    if current is None:
        clean["place"] = _place(errors, data.get("place"), user)
    elif "place" in data and data.get("place") is not None:
        errors["place"] = _("A message set stays where it was created.")
    if errors:
        raise SetError(errors, 422, problems)
    # render every rendition for the sample customer, then the lint (CE-21, CE-31)
    rows = [{"channel": c, **v} for c, v in renditions.items()]
    for row in rows:
        problems += render_rendition(row, master, SAMPLE_CUSTOMER).problems
    problems += lint_renditions(rows, master)
    blocking = [p for p in problems if p.level == ERROR]
    if blocking:
        for p in blocking:
            errors.setdefault(_problem_key(p), p.message)
        raise SetError(errors, 422, problems)
    return clean, problems


def _place(errors: dict[str, str], value: Any, user: Any) -> tuple[int | None, int | None]:
    allowed = dict(places(user))
    if not allowed:
        errors["place"] = _("Your roles do not let you compose message sets anywhere.")
        return None, None
    key = value if isinstance(value, str) and value else next(iter(allowed))
    if key not in allowed:
        errors["place"] = _("Choose one of: %(choices)s.", choices=", ".join(allowed))
        return None, None
    if key == "hq":
        return None, None
    kind, ident = key.split(":", 1)
    return (int(ident), None) if kind == "unit" else (None, int(ident))


# -- writes (the caller commits) --------------------------------------------------------------------


def save(user: Any, data: Any, current: CemMessageSet | None = None) -> tuple[CemMessageSet, list[Problem]]:
    """Create (``current`` None) or update a set; returns it with the non-blocking findings
    (suggestions). Raises :class:`SetError`; nothing is written then."""
    if current is not None and not may_edit(user, current):
        raise SetError({"": _("This message set belongs to HQ or another place: you may read it, not change it.")},
                       403)
    clean, problems = validate(data, user, current)
    if current is None:
        unit_id, group_id = clean["place"]
        ms = CemMessageSet(name=clean["name"].strip(), category=clean["category"], master=clean["master"],
                           org_unit_id=unit_id, partner_group_id=group_id, created_by_id=getattr(user, "id", None))
        ms.renditions = [CemRendition(channel=c, subject=v.get("subject"), body=v.get("body") or "", html=v.get("html"))
                         for c, v in clean["renditions"].items()]
        action = "cem.message_set_created"
        db.session.add(ms)
    else:
        ms = current
        ms.name, ms.category, ms.master = clean["name"].strip(), clean["category"], clean["master"]
        by_channel = {r.channel: r for r in ms.renditions}
        for channel, r in by_channel.items():
            if channel not in clean["renditions"]:
                ms.renditions.remove(r)
        for channel, v in clean["renditions"].items():
            r = by_channel.get(channel)
            if r is None:
                ms.renditions.append(CemRendition(channel=channel, subject=v.get("subject"), body=v.get("body") or "",
                                                  html=v.get("html")))
            else:
                r.subject, r.body, r.html = v.get("subject"), v.get("body") or "", v.get("html")
        action = "cem.message_set_updated"
    before = current.revision if current is not None else None
    db.session.flush()
    set_revision(ms)
    if before != ms.revision:
        audit.record(action, ms, summary=f"#{ms.id} {ms.name} · {ms.revision[:12]}")
    db.session.flush()
    if current is not None and before != ms.revision:
        _reopen_campaigns(user, ms.id)
    return ms, problems


def _reopen_campaigns(user: Any, set_id: int) -> None:
    """A changed set is new content for every campaign that sends it: an approved or scheduled
    one goes back to approval (CE-27, as for an edit of the campaign itself); one that is sending
    or paused would send unapproved text in its later steps, so the edit is refused (409)."""
    from ..campaign_models import APPROVED, PAUSED, PENDING, SCHEDULED, SENDING, CemCampaign

    used = (select(CemCampaignStep.campaign_id).where(CemCampaignStep.message_set_id == set_id)
            .union(select(CemCampaignVariant.campaign_id).where(CemCampaignVariant.message_set_id == set_id)))
    campaigns = db.session.scalars(select(CemCampaign).where(
        CemCampaign.id.in_(used), CemCampaign.state.in_((PENDING, APPROVED, SCHEDULED, SENDING, PAUSED)))).all()
    if any(c.state in (SENDING, PAUSED) for c in campaigns):
        raise SetError({"": _("A campaign is sending this message set: it cannot be changed now. "
                              "Copy it into a new set instead.")}, 409)
    for campaign in campaigns:
        content_changed(campaign, user, reason="message set edited")


def usage_count(set_id: int) -> int:
    """Campaign steps and A/B variants that send this set."""
    steps = select(func.count()).select_from(CemCampaignStep).where(CemCampaignStep.message_set_id == set_id)
    variants = select(func.count()).select_from(CemCampaignVariant).where(CemCampaignVariant.message_set_id == set_id)
    return int(db.session.execute(steps).scalar_one()) + int(db.session.execute(variants).scalar_one())


def delete(user: Any, message_set: CemMessageSet) -> None:
    """Delete a set no campaign uses (409 otherwise, 403 when read-only)."""
    if not may_edit(user, message_set):
        raise SetError({"": _("This message set belongs to HQ or another place: you may read it, not change it.")},
                       403)
    used = usage_count(message_set.id)
    if used:
        raise SetError({"": _("Campaigns use this message set (%(n)s steps or variants): it cannot be deleted.",
                              n=used)}, 409)
    audit.record("cem.message_set_deleted", message_set, summary=f"#{message_set.id} {message_set.name}")
    db.session.delete(message_set)
    db.session.flush()


# -- reading ----------------------------------------------------------------------------------------


def customer_sample(user: Any, customer_id: Any) -> dict[str, Any] | None:
    """The preview's customer: one of the user's customers (404 outside their scope), as the dict
    renditions see (``customer.name`` …); ``None`` for the built-in sample."""
    if customer_id in (None, ""):
        return None
    ident = id_or_404(Customer, customer_id)
    row = db.session.execute(select(Customer.id, Customer.code, Customer.name, Customer.tier, OrgUnit.name)
                             .outerjoin(OrgUnit, OrgUnit.id == Customer.branch_id)
                             .where(Customer.id == ident, Customer.pseudonymized_at.is_(None),
                                    scope_filter(user, "customer.view", Customer))).one_or_none()
    if row is None:
        abort(404, description=not_found_message(Customer))
    audit.log_access("view", row[0], detail="cem message set preview")
    return {"id": row[0], "code": row[1], "name": row[2], "tier": row[3] or "", "branch": row[4] or ""}


def renditions_dict(message_set: CemMessageSet) -> dict[str, dict[str, str | None]]:
    return {r.channel: {name: getattr(r, name) for name in RENDITION_FIELDS.get(r.channel, ("body",))}
            for r in sorted(message_set.renditions, key=lambda r: CHANNELS.index(r.channel)
                            if r.channel in CHANNELS else 99)}


def set_dict(message_set: CemMessageSet, user: Any) -> dict[str, Any]:
    """The JSON of one set (API)."""
    return {"id": message_set.id, "name": message_set.name, "category": message_set.category,
            "master": dict(message_set.master or {}), "renditions": renditions_dict(message_set),
            "org_unit_id": message_set.org_unit_id, "partner_group_id": message_set.partner_group_id,
            "place": place_label(message_set), "editable": may_edit(user, message_set),
            "revision": message_set.revision,
            "created_at": message_set.created_at.isoformat() if message_set.created_at else None,
            "updated_at": message_set.updated_at.isoformat() if message_set.updated_at else None}


LAW_REASONS = {
    "missing": _l("the ad label \"(광고)\" is missing"),
    "malformed": _l("the ad label must be written exactly \"(광고)\" (not [광고], (광 고), {광고} …)"),
    "not_at_start": _l("\"(광고)\" must come first"),
    "empty_body": _l("the text is empty"),
    "subject_missing": _l("the subject is missing"),
    "sender_missing": _l("the sender name is not configured"),
    "contact_missing": _l("the sender's contact is not configured"),
    "optout_missing": _l("080 opt-out number not configured"),
    "optout_not_080": _l("the opt-out number is not an 080 number"),
    "unsubscribe_missing": _l("there is no unsubscribe link"),
    "unsubscribe_invalid": _l("the unsubscribe link is not valid"),
    "not_cp949": _l("not encodable in CP949"),
    "too_long": _l("longer than an LMS may be (2,000 bytes)"),
}


def law_text(raw: str) -> str:
    """``LawViolation``'s reason codes ("malformed", "not_cp949: 😀") in words."""
    codes, _sep, detail = raw.partition(": ")
    words = [str(LAW_REASONS.get(c.strip(), c.strip())) for c in codes.split(",")]
    return "; ".join(words) + (f" ({detail})" if detail else "")


def _readable(problem: Problem) -> Problem:
    if problem.code != "law" or "detail" not in problem.params:
        return problem
    return dataclasses.replace(problem, params={**problem.params, "detail": law_text(str(problem.params["detail"]))})


def preview_rows(ms: CemMessageSet, customer: dict[str, Any] | None, marketing: bool) -> list[dict[str, Any]]:
    """Each rendition as rendered (and wrapped for marketing) with its byte class and problems."""
    rows = []
    for r in preview(ms, customer, marketing=marketing):
        size, klass = r.size, r.sms_class
        if r.channel == "sms" and klass is None and not r.problems:
            try:
                size, klass = cp949_len(r.body), sms_class(r.body)
            except LawViolation as exc:
                r.problems.append(Problem("law", ERROR, "sms", params={"detail": str(exc)}))
        r.problems = [_readable(p) for p in r.problems]
        rows.append({"r": r, "size": size, "klass": klass,
                     "subject": r.composed_subject if r.composed_subject is not None else r.subject,
                     "body": r.composed_body if r.composed_body is not None else r.body,
                     "html": r.composed_html if r.composed_html is not None else r.html})
    return rows
