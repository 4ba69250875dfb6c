"""Target-list extraction: preview the counts, freeze the list, use or cancel it, page and export it.

``preview`` and ``create`` run the segment (scoped, see :mod:`.segments`) joined with the
channel's suppression (:mod:`.suppression`): the counts are one aggregate query, the frozen list
one ``INSERT … SELECT`` — nothing is looped over in Python.

A list is a ``draft`` until someone marks it ``used`` (:func:`mark_used`): that moment is the
contact — its members are written to the contact history (``portal.contact``, one ``INSERT …
SELECT``) and from then on count as ``recently_contacted`` on the channel — so lists prepared side
by side never block each other. Marking a list used first drops the members contacted on the
channel meanwhile (by another list, a message, a call: nobody is contacted twice inside the cool-down). A list can
be ``cancelled`` (:func:`cancel`); cancelling a *used* list does not lift the cool-down: the
messages went out, and ``used_at`` stays.

A list sits where its creator works (``branch_id`` / ``partner_id``, see :func:`owner_place`) and
is scoped in SQL like customers: the creator, anyone whose ``extraction.create`` grant covers that
place, and global holders (HQ) see it; anyone else gets a 404. Its members are shown and exported
only while the viewer may still see the customer and the customer still consents on the channel
(an opt-out is honoured at once, SECURITY.md), with just the contact fields the channel needs.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ClauseElement,
    Executable,
    Select,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.compiler import compiles

from .. import audit
from ..contact import rules as contact_rules
from ..contact.models import Contact
from ..contact.registry import channel as registered_channel
from ..customers.normalize import clean_text, format_phone
from ..extensions import db
from ..models import (
    EXTRACTION_CHANNELS,
    EXTRACTION_STATUSES,
    Customer,
    Extraction,
    ExtractionMember,
    OrgUnit,
    Partner,
    Segment,
    utcnow,
)
from ..pagination import COUNT_CAP, Page, paginate, paginate_rows, up_to_cap
from ..security import has_global_permission, register_scoped, scope_filter
from ..security.permissions import roles_granting
from .segments import (
    SCOPE_PERMISSION,
    Problem,
    RuleError,
    SegmentQuery,
    consent_granted,
    local_today,
    segment_query,
    tune_for_analytics,
)
from .suppression import suppression

PERMISSION = "extraction.create"
register_scoped(Extraction, branch_attr="branch_id", partner_attr="partner_id")
SAMPLE_SIZE = 10
BASE_FIELDS = ("id", "code", "name")


def contact_fields(channel: str) -> tuple[str, ...]:
    """Contact fields a channel's list carries besides id, code and name: the channel registry's
    ``fields`` (none for a channel whose adapter finds the recipient itself, e.g. push)."""
    ch = registered_channel(channel)
    return ch.fields if ch is not None else ()


@dataclass
class PreviewResult:
    """``included`` may be contacted; ``excluded`` counts each excluded customer once (first
    reason), ``excluded_any`` how many each reason hits on its own."""

    channel: str | None
    total: int
    included: int
    excluded: dict[str, int] = field(default_factory=dict)
    excluded_any: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, sample: bool = True) -> dict[str, Any]:
        """The API's answer: ``{"included"}`` for a count, plus the breakdown and sample for a channel."""
        body: dict[str, Any] = {"included": self.included}
        if self.channel is not None:
            body.update({"channel": self.channel, "total": self.total, "excluded": self.excluded})
            if self.excluded_any:
                body["excluded_any"] = self.excluded_any
            if sample:
                body["sample"] = self.sample
        return body


# -- masking ------------------------------------------------------------------------------------------------


def mask_phone(phone: str | None) -> str:
    shown = format_phone(phone)
    if not shown:
        return ""
    parts = shown.split("-")
    if len(parts) == 3:
        return f"{parts[0]}-{'*' * len(parts[1])}-{parts[2]}"
    return shown[:3] + "*" * max(0, len(shown) - 7) + shown[-4:]


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    local, domain = email.split("@", 1)
    return f"{local[:2]}{'*' * max(1, len(local) - 2)}@{domain}"


def mask_address(address: str | None, postal_code: str | None) -> str:
    if not address:
        return ""
    words = address.split()
    head = " ".join(words[:2])
    return f"{head} …" + (f" ({postal_code[:3]}**)" if postal_code else "")


def masked_contact(row: Any, channel: str | None) -> str:
    if channel == "email":
        return mask_email(row.email)
    if channel == "dm":
        return mask_address(row.address, row.postal_code)
    if channel is not None and "phone" in contact_fields(channel):
        return mask_phone(row.phone)
    if channel is not None:
        return ""
    return mask_phone(row.phone) or mask_email(row.email)


SAMPLE_COLUMNS = (Customer.id, Customer.code, Customer.name, Customer.phone, Customer.email, Customer.address,
                  Customer.postal_code)


def _sample(stmt: Select, channel: str | None) -> list[dict[str, Any]]:
    rows = db.session.execute(stmt.order_by(Customer.id).limit(SAMPLE_SIZE)).all()
    return [{"id": r.id, "code": r.code, "name": r.name, "contact": masked_contact(r, channel)} for r in rows]


# -- preview and create ----------------------------------------------------------------------------------


def checked(viewer: Any, rules: Any, channel: Any, channel_required: bool) -> SegmentQuery:
    """The compiled segment, with the rules' and the channel's problems reported together."""
    problems: list[Problem] = []
    if (channel is not None or channel_required) and channel not in EXTRACTION_CHANNELS:
        problems.append(Problem("channel", _l("Choose a channel: %(channels)s.",
                                              channels=", ".join(EXTRACTION_CHANNELS))))
    try:
        seg = segment_query(viewer, rules)
    except RuleError as exc:
        problems = exc.problems + problems
    if problems:
        raise RuleError(problems)
    return seg


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` with the select's own bound parameters (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, stmt: Select):
        self.stmt = stmt


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.stmt, **kw)


def is_large(seg: SegmentQuery) -> bool:
    """Does the planner expect more than ``PORTAL_SUPPRESSION_LARGE_SEGMENT`` customers (default
    100,000)? Then suppression reads the channel's consents in one pass (see
    :func:`portal.contact.rules.newest_consent`); asking costs one planning round trip, no execution."""
    if db.engine.dialect.name != "postgresql":
        return False
    limit = int(current_app.config.get("PORTAL_SUPPRESSION_LARGE_SEGMENT") or 100_000)
    plan = db.session.execute(_Explain(seg.select(Customer.id))).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Plan Rows"]) > limit


def counts(seg: SegmentQuery, channel: str, with_any: bool = False, large: bool | None = None) -> PreviewResult:
    """The breakdown for ``channel`` over a compiled segment: one grouped query.

    Grouped by the first reason's CASE (each customer stops at the first reason that applies);
    ``with_any`` groups by the bit mask of all reasons instead, to count each reason on its own too.
    """
    sup = suppression(channel, whole_channel=is_large(seg) if large is None else large)
    if with_any:
        key = sup.mask().label("mask")
        rows = db.session.execute(sup.apply(seg.select(key, func.count())).group_by(key)).all()
        total, first, anyc = sup.read_masks(rows)
    else:
        key = sup.first_reason().label("reason")
        rows = db.session.execute(sup.apply(seg.select(key, func.count())).group_by(key)).all()
        (total, first), anyc = sup.read_first(rows), {}
    return PreviewResult(channel, total, total - sum(first.values()), first, anyc)


def preview(viewer: Any, rules: Any, channel: str | None = None, with_sample: bool = True,
            with_any: bool = False) -> PreviewResult:
    """How many of ``viewer``'s customers match ``rules`` — and, for a channel, how many may be
    contacted, why the others may not (``with_any``: also how many each reason hits on its own)
    and a masked sample of those who may. Without a channel: just the count. Raises :class:`RuleError`."""
    seg = checked(viewer, rules, channel, channel_required=False)
    tune_for_analytics()
    if channel is None:
        n = seg.count()
        return PreviewResult(None, n, n)
    result = counts(seg, channel, with_any)
    if with_sample and result.included:
        sup = suppression(channel)
        result.sample = _sample(sup.apply(seg.select(*SAMPLE_COLUMNS)).where(sup.allowed()), channel)
    return result


def _lock_channel(channel: str) -> None:
    """One list marked used per channel at a time, so two at once cannot both contact the same
    customers (each would miss the other's uncommitted contact). SQLite's write lock does this
    already."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"extraction:{channel}".encode())})


def clean_name(name: Any, default: str) -> str:
    if name is None or (isinstance(name, str) and not name.strip()):
        return default[:120]
    if not isinstance(name, str):
        raise RuleError([Problem("name", _l("Must be text."))])
    return clean_text(name).strip()[:120] or default[:120]


def _common_ancestor(nodes: list[Any]) -> int | None:
    """Id of the deepest node whose subtree holds all ``nodes`` (materialized paths of ids,
    ``/1/4/``), or None when they share no root."""
    common: list[str] = []
    for level in zip(*(n.path.strip("/").split("/") for n in nodes), strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return int(common[-1]) if common else None


def owner_place(viewer: Any) -> tuple[int | None, int | None]:
    """(branch_id, partner_id) where a new list of ``viewer`` sits: the org unit and the partner of
    their ``extraction.create`` grants (several: the smallest subtree holding them all). A global
    holder's list sits nowhere in particular: it is seen by its creator and by global holders."""
    if has_global_permission(viewer, PERMISSION):
        return None, None
    wanted = roles_granting(PERMISSION)
    grants = [lr for lr in viewer.local_roles if lr.role in wanted]
    units = [lr.org_unit for lr in grants if lr.org_unit is not None]
    partners = [lr.partner for lr in grants if lr.partner is not None]
    return (_common_ancestor(units) if units else None), (_common_ancestor(partners) if partners else None)


def create(viewer: Any, rules: Any, channel: str, name: str | None = None, segment: Segment | None = None) -> Extraction:
    """Freeze the target list as a draft: the counts (one query) and the members (one ``INSERT …
    SELECT``), with an audit event. The caller commits. Raises :class:`RuleError`."""
    seg = checked(viewer, rules, channel, channel_required=True)
    default = f"{segment.name if segment else _('Target list')} · {channel} · {local_today():%Y-%m-%d}"
    branch_id, partner_id = owner_place(viewer)
    ext = Extraction(name=clean_name(name, default), channel=channel, rules=rules, included=0, excluded={},
                     segment_id=segment.id if segment else None, created_by_id=viewer.id, status="draft",
                     branch_id=branch_id, partner_id=partner_id)
    tune_for_analytics()
    db.session.add(ext)
    db.session.flush()
    large = is_large(seg)
    result = counts(seg, channel, large=large)
    sup = suppression(channel, whole_channel=large)
    members = sup.apply(seg.select(literal(ext.id), Customer.id)).where(sup.allowed())
    inserted = db.session.execute(insert(ExtractionMember).from_select(["extraction_id", "customer_id"], members))
    ext.included = int(inserted.rowcount if inserted.rowcount is not None and inserted.rowcount >= 0 else result.included)
    ext.excluded = result.excluded
    audit.record("extraction.created", ext, summary=f"{ext.name}: {ext.included} customers by {channel}",
                 changes={"included": (None, ext.included), "excluded": (None, sum(result.excluded.values()))})
    from ..events import fire, request_source

    fire("portal_extraction_created", extraction=ext, actor=viewer, source=request_source())
    return ext


# -- states --------------------------------------------------------------------------------------------------


class StateError(Exception):
    """A transition the list's state does not allow (``message`` is translated)."""

    def __init__(self, message: Any):
        super().__init__(str(message))
        self.message = message


def mark_used(viewer: Any, ext: Extraction) -> int:
    """Draft → used: now is the contact moment, and the cool-down of its members starts.

    Members contacted on the channel (marketing) within the cool-down since this list was made —
    by another list, a message or a call — are taken off it first (they count under
    ``recently_contacted``); returns how many. Then every remaining member gets a contact row
    (source ``extraction``, ref ``extraction:<id>``) in one ``INSERT … SELECT``. Serialized per
    channel like :func:`create`, and the state is switched by one conditional UPDATE, so two clicks
    at once cannot both use the list. The caller commits. Raises :class:`StateError`."""
    _lock_channel(ext.channel)
    now = utcnow()
    switched = db.session.execute(
        update(Extraction).where(Extraction.id == ext.id, Extraction.status == "draft")
        .values(status="used", used_at=now, used_by_id=viewer.id).execution_options(synchronize_session=False))
    if switched.rowcount != 1:
        db.session.refresh(ext)
        raise StateError(_l("Only a draft list can be marked as used; this one was used already.")
                         if ext.status == "used" else _l("Only a draft list can be marked as used; this one is cancelled."))
    contacted = contact_rules.recently_contacted(ext.channel, now, customer_id=ExtractionMember.customer_id)
    gone = db.session.execute(delete(ExtractionMember).where(ExtractionMember.extraction_id == ext.id, contacted)
                              .execution_options(synchronize_session=False)).rowcount or 0
    members = select(ExtractionMember.customer_id, literal(ext.channel), literal("marketing"), literal(now),
                     literal(viewer.id), literal("extraction"), literal(f"extraction:{ext.id}")
                     ).where(ExtractionMember.extraction_id == ext.id)
    db.session.execute(insert(Contact).from_select(
        ["customer_id", "channel", "purpose", "at", "actor_id", "source", "ref"], members))
    db.session.refresh(ext)
    if gone:
        excluded = dict(ext.excluded or {})
        excluded["recently_contacted"] = int(excluded.get("recently_contacted", 0)) + gone
        ext.excluded, ext.included = excluded, max(0, ext.included - gone)
    audit.record("extraction.used", ext, summary=f"{ext.name}: {ext.included} customers by {ext.channel}",
                 changes={"status": ("draft", "used"), **({"included": (ext.included + gone, ext.included)} if gone else {})})
    return gone


def cancel(viewer: Any, ext: Extraction) -> None:
    """Draft or used → cancelled. A used list's ``used_at`` stays: its members were contacted, so
    their cool-down runs on (cancelling stops further use of the list, it does not undo a send).
    The caller commits. Raises :class:`StateError`."""
    before = ext.status
    switched = db.session.execute(
        update(Extraction).where(Extraction.id == ext.id, Extraction.status.in_(("draft", "used")))
        .values(status="cancelled", cancelled_at=utcnow(), cancelled_by_id=viewer.id)
        .execution_options(synchronize_session=False))
    db.session.refresh(ext)
    if switched.rowcount != 1:
        raise StateError(_l("This list is already cancelled."))
    audit.record("extraction.cancelled", ext, summary=ext.name, changes={"status": (before, "cancelled")})


STATUS_LABELS: dict[str, Any] = {"draft": _l("Draft"), "used": _l("Used"), "cancelled": _l("Cancelled")}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


# -- reading -------------------------------------------------------------------------------------------------


def visible(viewer: Any) -> Any:
    """The extractions ``viewer`` may open, as SQL: their own, and every list placed inside their
    ``extraction.create`` scope (all of them for a global holder)."""
    return or_(Extraction.created_by_id == viewer.id, scope_filter(viewer, PERMISSION, Extraction))


def extraction_or_404(viewer: Any, ident: Any) -> Extraction:
    """Someone else's extraction and a missing one look the same (404)."""
    text_id = str(ident)
    if not (text_id.isascii() and text_id.isdigit()) or not 0 < int(text_id) < 2**31:
        abort(404, description="No extraction with this id.")
    ext = db.session.execute(select(Extraction).where(Extraction.id == int(text_id), visible(viewer))).scalar_one_or_none()
    if ext is None:
        abort(404, description="No extraction with this id.")
    return ext


def extraction_page(viewer: Any, page: int, per_page: int, mine: bool = False, status: str | None = None) -> Page:
    """Newest first: every list in the viewer's scope (``mine``: only the ones they made), optionally
    of one ``status``."""
    conds = [visible(viewer)]
    if mine:
        conds.append(Extraction.created_by_id == viewer.id)
    if status in EXTRACTION_STATUSES:
        conds.append(Extraction.status == status)
    stmt = select(Extraction).where(*conds).order_by(Extraction.created_at.desc(), Extraction.id.desc())
    return paginate(stmt, page, per_page)


def places(exts: list[Extraction]) -> dict[int, str]:
    """Branch or distributor code of each list (one query), for the list page."""
    unit_ids = {e.branch_id for e in exts if e.branch_id}
    partner_ids = {e.partner_id for e in exts if e.partner_id}
    units = dict(db.session.execute(select(OrgUnit.id, OrgUnit.code).where(OrgUnit.id.in_(unit_ids))).all()) if unit_ids else {}
    partners = (dict(db.session.execute(select(Partner.id, Partner.code).where(Partner.id.in_(partner_ids))).all())
                if partner_ids else {})
    return {e.id: units.get(e.branch_id) or partners.get(e.partner_id) or "" for e in exts}


def member_fields(channel: str) -> tuple[str, ...]:
    return BASE_FIELDS + contact_fields(channel)


def members_stmt(viewer: Any, ext: Extraction) -> Select:
    """Members the viewer may see now and who still consent on the channel, by customer id."""
    in_list = select(ExtractionMember.customer_id).where(ExtractionMember.extraction_id == ext.id)
    return (select(Customer)
            .where(Customer.id.in_(in_list), scope_filter(viewer, SCOPE_PERMISSION, Customer),
                   Customer.pseudonymized_at.is_(None), consent_granted([ext.channel]))
            .order_by(Customer.id))


def _columns(channel: str) -> tuple[Any, ...]:
    return tuple(getattr(Customer, f) for f in member_fields(channel))


def members_page(viewer: Any, ext: Extraction, page: int, per_page: int) -> Page:
    return paginate_rows(members_stmt(viewer, ext), page, per_page, key=Customer.id, columns=_columns(ext.channel))


def member_dict(row: Any, channel: str) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in member_fields(channel)}
    if "phone" in out:
        out["phone"] = format_phone(out["phone"]) or None
    return out


WITHDRAWN_COUNT_UP_TO = 100_000


def withdrawn_count(viewer: Any, ext: Extraction) -> int | None:
    """Members (in the viewer's scope) left out because they withdrew consent since, capped like list
    counts; ``None`` for lists too long to check on every page view."""
    if ext.included > WITHDRAWN_COUNT_UP_TO:
        return None
    in_list = select(ExtractionMember.customer_id).where(ExtractionMember.extraction_id == ext.id)
    gone = up_to_cap(select(Customer.id)
                     .where(Customer.id.in_(in_list), scope_filter(viewer, SCOPE_PERMISSION, Customer),
                            ~(consent_granted([ext.channel]) & Customer.pseudonymized_at.is_(None))))
    return min(db.session.execute(select(func.count()).select_from(gone.subquery())).scalar_one(), COUNT_CAP)


def export_count(viewer: Any, ext: Extraction) -> int:
    stmt = members_stmt(viewer, ext).order_by(None).with_only_columns(Customer.id)
    return db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()


def export_rows(viewer: Any, ext: Extraction) -> Iterator[list[Any]]:
    """The export's rows, streamed (the writers neutralize formula cells). The query is built now,
    so the rows can be read after the access log's commit has expired ``ext``."""
    channel = ext.channel
    stmt = members_stmt(viewer, ext).with_only_columns(*_columns(channel)).execution_options(yield_per=2000)

    def rows() -> Iterator[list[Any]]:
        for row in db.session.execute(stmt):
            yield list(member_dict(row, channel).values())

    return rows()


def extraction_dict(ext: Extraction, detail: bool = False) -> dict[str, Any]:
    body = {"id": ext.id, "name": ext.name, "channel": ext.channel, "status": ext.status, "included": ext.included,
            "excluded": ext.excluded or {}, "segment_id": ext.segment_id, "created_by_id": ext.created_by_id,
            "created_at": ext.created_at.isoformat(), "used_at": ext.used_at.isoformat() if ext.used_at else None,
            "cancelled_at": ext.cancelled_at.isoformat() if ext.cancelled_at else None,
            "branch_id": ext.branch_id, "partner_id": ext.partner_id}
    if detail:
        body["rules"] = ext.rules
    return body
