"""The one way stories change: create, edit, check out a working copy, fire a transition.

Every function validates everything before writing (a ``StoryError`` with every problem under its
field path, and nothing written) and keeps the search index in step (``search.index.reindex_story``
of the base story, in the same transaction). Nothing here commits: the caller commits the work, or
rolls back on a ``StoryError``.

Authorship: a writer writes for the unit a local role gives them (a Branch Staff member for their
branch, a Group Leader for their group); someone with several chooses with ``unit`` (a code);
writers with a global role (HQ, administrators) may name any unit or group, and write for the
head office otherwise. Visibility then fixes the scope in SQL terms: ``branch`` → the author
branch, ``region`` → its region, ``group`` → the author group, ``all`` → everyone.

A published story is never edited in place: :func:`checkout` makes a *working copy* (a row with
``base_id``) that goes through review on its own; publishing the copy writes its content into the
base story (``version`` + 1, helpful votes start again) and merges the copy.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flask import abort, has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select

from portal.toolkit import (
    Category,
    OrgUnit,
    PartnerGroup,
    User,
    WorkflowError,
    audit,
    available_transitions,
    check_transition,
    content_changed,
    current_revision,
    db,
    get_settings,
    has_global_permission,
    has_permission,
    id_or_404,
    system_transition,
    transition,
    utcnow,
    workflow_history,
)

from ..errors import StoryError
from ..models import (
    ARCHIVED,
    PENDING,
    PRIVATE,
    PUBLISHED,
    SEASONS,
    STORY_CHANNELS,
    TEXT_FIELDS,
    TITLE_MAX,
    VISIBILITIES,
    KsAttachment,
    KsStory,
)
from ..permissions import REVIEW, SEE_ALL, WRITE
from .attachments import copy_attachments, merge_attachments

__all__ = ["StoryError", "create_story", "update_story", "checkout", "fire", "revision_data",
           "get_story_or_404", "story_document", "story_summaries", "open_copy_id", "needs_review",
           "today_kst", "transitions_for", "writer_places", "history_document", "WRITABLE_FIELDS"]

log = logging.getLogger("plugins.knowledge_share")

TEXT_MAX = 20_000
KEYWORDS_MAX, KEYWORD_LEN = 10, 30
RFM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
#: The fields a client may write (no mass assignment: state, ids, counts and results are not here).
WRITABLE_FIELDS = ("title", *TEXT_FIELDS, "channels", "category", "rfm_segment", "season", "keywords",
                   "visibility", "unit", "campaign", "programme")
#: Read-only fields a client may send back unchanged from a document; anything else is unknown.
RESULT_FIELDS = ("result", "result_mark")
#: Columns a working copy carries (and writes back into its base story on publish).
CONTENT_COLUMNS = ("title", *TEXT_FIELDS, "audience_rules", "channels", "category_id", "rfm_segment", "season",
                   "keywords", "author_unit_id", "author_group_id", "visibility", "scope_unit_id", "scope_group_id",
                   "campaign_id", "programme_id", "result", "result_mark", "result_checked_at")
#: Transitions nobody fires from a button or the API (the system's merge of a published working copy).
NOT_FOR_PEOPLE = ("merge",)
OPEN_COPY_STATES = (PRIVATE, PENDING)
KST = timedelta(hours=9)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def today_kst(now: datetime | None = None) -> date:
    """The Korean calendar day (freshness is counted in Korean days)."""
    return ((now or utcnow()) + KST).date()


def _add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    return date(year, month, 28)  # pragma: no cover


def review_months() -> int:
    """The setting ``review_months`` (default 12): how long a review keeps a story fresh."""
    try:
        value = get_settings("knowledge_share").get("review_months")
    except Exception:  # noqa: BLE001  (no settings schema: the default)
        value = None
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 120 else 12


def needs_review(story: KsStory, today: date | None = None) -> bool:
    """A published story whose review is overdue (still listed and searchable, only flagged)."""
    return (story.state == PUBLISHED and story.review_due is not None
            and story.review_due < (today or today_kst()))


# -- reading -------------------------------------------------------------------------------------------


def _reviewer(user: Any) -> bool:
    return has_global_permission(user, SEE_ALL) or has_permission(user, REVIEW)


def _readable(user: Any) -> Any:
    """SQL: stories ``user`` may open — visible, and (unless published or archived) their own or
    theirs to review."""
    from .visibility import visible_filter

    cond = visible_filter(user)
    if _reviewer(user):
        return cond
    uid = getattr(user, "id", None)
    return cond & or_(KsStory.state.in_((PUBLISHED, ARCHIVED)), KsStory.author_id == uid)


def get_story_or_404(story_id: Any, user: Any) -> KsStory:
    """The story if ``user`` may see it (visibility filter; private, pending and merged stories only
    for their author, reviewers and ``ks.see_all``); 404 otherwise, like a missing id."""
    ident = id_or_404(KsStory, story_id)
    story = db.session.execute(select(KsStory).where(KsStory.id == ident, _readable(user))).scalar_one_or_none()
    if story is None:
        abort(404, description="No story with this id.")
    return story


def open_copy_id(story: KsStory) -> int | None:
    """The id of the open (private or pending) working copy of a base story, if any."""
    if story.base_id is not None:
        return None
    return db.session.execute(select(KsStory.id).where(KsStory.base_id == story.id,
                                                       KsStory.state.in_(OPEN_COPY_STATES))
                              .order_by(KsStory.id).limit(1)).scalar_one_or_none()


def transitions_for(story: KsStory, user: Any) -> list[str]:
    """The transitions ``user`` may fire on ``story`` now (buttons, the API document)."""
    return [t.id for t in available_transitions(story, user) if t.id not in NOT_FOR_PEOPLE]


# -- validation ----------------------------------------------------------------------------------------


def _clean_text(value: Any, field: str, limit: int, errors: dict[str, str], *, required: bool = False) -> str | None:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = _("Must be text.")
        return None
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()
    if _CONTROL.search(value):
        errors[field] = _("Remove the control characters.")
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        errors[field] = _("Remove the characters that cannot be stored.")
        return None
    if required and not value:
        errors[field] = _("Required.")
        return None
    if len(value) > limit:
        errors[field] = _("At most %(n)s characters (now %(len)s).", n=f"{limit:,}", len=f"{len(value):,}")
        return None
    return value


def _code_list(value: Any, field: str, allowed: Iterable[str], errors: dict[str, str]) -> list[str] | None:
    allowed = tuple(allowed)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[field] = _("A list of codes.")
        return None
    bad = [v for v in value if v not in allowed]
    if bad:
        errors[field] = _("Unknown: %(bad)s. One of: %(allowed)s.", bad=", ".join(b[:30] for b in bad[:5]),
                          allowed=", ".join(allowed))
        return None
    return list(dict.fromkeys(value))


def _keywords(value: Any, errors: dict[str, str]) -> list[str] | None:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors["keywords"] = _("A list of words.")
        return None
    out: dict[str, str] = {}
    for i, raw in enumerate(value):
        word = unicodedata.normalize("NFC", raw).strip()
        if not word:
            continue
        if len(word) > KEYWORD_LEN or _CONTROL.search(word):
            errors[f"keywords[{i}]"] = _("A keyword has at most %(n)s characters.", n=KEYWORD_LEN)
            return None
        out.setdefault(word.casefold(), word)
    if len(out) > KEYWORDS_MAX:
        errors["keywords"] = _("At most %(n)s keywords.", n=KEYWORDS_MAX)
        return None
    return list(out.values())


def _category(value: Any, errors: dict[str, str]) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors["category"] = _("A category code.")
        return None
    if isinstance(value, int):
        found = db.session.scalar(select(Category.id).where(Category.id == value)) if 0 < value < 2**31 else None
    else:
        found = db.session.scalar(select(Category.id).where(Category.code == value.strip()[:20]))
    if found is None:
        errors["category"] = _("Unknown category.")
    return found


def _id(value: Any, field: str, errors: dict[str, str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        errors[field] = _("An id (a positive whole number).")
        return None
    return value


def _clean(data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The cleaned writable fields of ``data`` (only those sent when ``partial``); raises
    ``StoryError`` (422) with every problem under its field."""
    if not isinstance(data, Mapping):
        raise StoryError({"": _("Send a JSON object.")}, 422)
    errors: dict[str, str] = {}
    for key in data:
        if not isinstance(key, str) or (key not in WRITABLE_FIELDS and key not in RESULT_FIELDS):
            errors[str(key)[:60]] = _("Unknown field.")
    out: dict[str, Any] = {}

    def sent(name: str) -> bool:
        return name in data or not partial

    if sent("title"):
        out["title"] = _clean_text(data.get("title"), "title", TITLE_MAX, errors, required=True)
    for name in TEXT_FIELDS:
        if sent(name):
            out[name] = _clean_text(data.get(name), name, TEXT_MAX, errors)
    if sent("channels"):
        out["channels"] = _code_list(data.get("channels"), "channels", STORY_CHANNELS, errors)
    if sent("category"):
        out["category_id"] = _category(data.get("category"), errors)
    if sent("season"):
        season = data.get("season")
        if season in (None, ""):
            out["season"] = None
        elif not isinstance(season, str) or season not in SEASONS:
            errors["season"] = _("One of: %(allowed)s.", allowed=", ".join(SEASONS))
        else:
            out["season"] = season
    if sent("rfm_segment"):
        rfm = data.get("rfm_segment")
        if rfm in (None, ""):
            out["rfm_segment"] = None
        elif not isinstance(rfm, str) or not RFM_RE.fullmatch(rfm.strip()):
            errors["rfm_segment"] = _("A short segment code (letters, digits, - _ ., at most 40).")
        else:
            out["rfm_segment"] = rfm.strip()
    if sent("keywords"):
        out["keywords"] = _keywords(data.get("keywords"), errors)
    if sent("visibility"):
        vis = data.get("visibility")
        if vis is None and not partial:
            vis = "all"  # a story is written to be shared
        if not isinstance(vis, str) or vis not in VISIBILITIES:
            errors["visibility"] = _("One of: %(allowed)s.", allowed=", ".join(VISIBILITIES))
        else:
            out["visibility"] = vis
    if "unit" in data:
        unit = data.get("unit")
        if unit is not None and (not isinstance(unit, str) or not 0 < len(unit.strip()) <= 20):
            errors["unit"] = _("A unit or group code (B001, R01, G01).")
        else:
            out["unit"] = unit.strip() if isinstance(unit, str) else None
    for name in ("campaign", "programme"):
        if name in data:
            out[name] = _id(data.get(name), name, errors)
    if errors:
        raise StoryError(errors, 422)
    return out


# -- where a writer writes -------------------------------------------------------------------------------


def writer_places(actor: Any) -> tuple[list[OrgUnit], list[PartnerGroup]]:
    """The org units and partner groups ``actor`` writes for through local roles (``ks.write``)."""
    units: dict[int, OrgUnit] = {}
    groups: dict[int, PartnerGroup] = {}
    for lr in getattr(actor, "local_roles", []) or []:
        if lr.org_unit is not None and has_permission(actor, WRITE, lr.org_unit):
            units[lr.org_unit.id] = lr.org_unit
        elif lr.partner_group is not None and has_permission(actor, WRITE, lr.partner_group):
            groups[lr.partner_group.id] = lr.partner_group
    return sorted(units.values(), key=lambda u: u.code), sorted(groups.values(), key=lambda g: g.code)


def _head_office() -> OrgUnit | None:
    return db.session.execute(select(OrgUnit).where(OrgUnit.kind == "hq").order_by(OrgUnit.depth, OrgUnit.id)
                              .limit(1)).scalar_one_or_none()


def _place(actor: Any, code: str | None) -> OrgUnit | PartnerGroup | None:
    """The unit or group the story is written for (``code`` chooses); ``StoryError`` 422/403."""
    global_writer = has_global_permission(actor, WRITE)
    units, groups = writer_places(actor)
    if code:
        unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()
        group = None if unit is not None else db.session.execute(
            select(PartnerGroup).where(PartnerGroup.code == code)).scalar_one_or_none()
        chosen = unit or group
        mine_ids = ({("u", u.id) for u in units} | {("g", g.id) for g in groups})
        key = ("u", unit.id) if unit is not None else ("g", group.id) if group is not None else None
        if chosen is not None and (global_writer or key in mine_ids):
            return chosen
        mine = ", ".join([u.code for u in units] + [g.code for g in groups])
        raise StoryError({"unit": _("Not one of your units (%(mine)s).", mine=mine or "—")}, 422)
    if len(units) + len(groups) == 1:
        return (units or groups)[0]
    if len(units) + len(groups) > 1:
        mine = ", ".join([u.code for u in units] + [g.code for g in groups])
        raise StoryError({"unit": _("You write for several units: choose one (%(mine)s).", mine=mine)}, 422)
    if global_writer:
        return _head_office()
    raise StoryError({"permission": _("Your roles do not allow writing success stories.")}, 403)


def _scope(visibility: str, unit_id: int | None, group_id: int | None) -> tuple[int | None, int | None]:
    """(scope_unit_id, scope_group_id) for ``visibility``; ``StoryError`` when the author's place
    does not allow it."""
    if visibility == "all":
        return None, None
    if visibility == "group":
        if group_id is None:
            raise StoryError({"visibility": _("A group story needs an author group (a Group Leader's group).")}, 422)
        return None, group_id
    unit = db.session.get(OrgUnit, unit_id) if unit_id is not None else None
    if visibility == "branch":
        if unit is None or unit.kind != "branch":
            raise StoryError({"visibility": _("A branch story needs an author branch.")}, 422)
        return unit.id, None
    # region: the author branch's region, or the author region itself
    if unit is not None and unit.kind == "branch" and unit.parent is not None and unit.parent.kind == "region":
        return unit.parent.id, None
    if unit is not None and unit.kind == "region":
        return unit.id, None
    raise StoryError({"visibility": _("A region story needs an author branch or region.")}, 422)


def _apply(story: KsStory, clean: Mapping[str, Any]) -> None:
    for name in ("title", *TEXT_FIELDS, "channels", "category_id", "rfm_segment", "season", "keywords"):
        if name in clean:
            setattr(story, name, clean[name])


def _link(story: KsStory, clean: Mapping[str, Any], actor: Any) -> None:
    """A campaign or programme named in the input: the results service copies its result block
    (``"campaign": null`` with no programme unlinks: the figures become self-reported again)."""
    if "campaign" not in clean and "programme" not in clean:
        return
    campaign, programme = clean.get("campaign"), clean.get("programme")
    if campaign is not None and programme is not None:
        raise StoryError({"campaign": _("Link a campaign or a programme, not both.")}, 422)
    if campaign is None and programme is None and story.campaign_id is None and story.programme_id is None:
        return
    from ..results.service import link_result

    db.session.flush()
    try:
        link_result(story, campaign_id=campaign, programme_id=programme, actor=actor)
    except StoryError as exc:  # the results service names its columns; the API names the input fields
        names = {"campaign_id": "campaign", "programme_id": "programme"}
        raise StoryError({names.get(k, k): v for k, v in exc.errors.items()}, exc.status, **exc.extra) from None


def _check_result_fields(story: KsStory | None, data: Mapping[str, Any]) -> None:
    sent = [k for k in RESULT_FIELDS if k in data]
    if not sent:
        return
    if story is not None and (story.campaign_id is not None or story.programme_id is not None):
        msg = _("The result block is read-only; it is copied from the linked campaign or programme.")
    else:
        msg = _("The result block is read-only; link a campaign or programme, or write self-reported "
                "figures in result_text.")
    raise StoryError({k: msg for k in sent}, 422)


def _reindex(story: KsStory) -> None:
    from ..search.index import reindex_story

    db.session.flush()
    reindex_story(story.base_id or story.id)


# -- writing -------------------------------------------------------------------------------------------


def create_story(data: Mapping[str, Any], actor: Any) -> KsStory:
    """A new private story from the API/form fields, authored by ``actor`` for their unit or group."""
    if not has_permission(actor, WRITE):
        raise StoryError({"permission": _("Your roles do not allow writing success stories.")}, 403)
    clean = _clean(data, partial=False)
    _check_result_fields(None, data)
    place = _place(actor, clean.get("unit"))
    unit_id = place.id if isinstance(place, OrgUnit) else None
    group_id = place.id if isinstance(place, PartnerGroup) else None
    scope_unit, scope_group = _scope(clean["visibility"], unit_id, group_id)
    story = KsStory(author_id=actor.id, author_unit_id=unit_id, author_group_id=group_id,
                    visibility=clean["visibility"], scope_unit_id=scope_unit, scope_group_id=scope_group,
                    state=PRIVATE, version=1, helpful_count=0, reuse_count=0)
    _apply(story, clean)
    db.session.add(story)
    db.session.flush()
    _link(story, clean, actor)
    audit.record("ks.story.created", story, summary=f"story {story.id}: {story.title[:80]}", actor=actor)
    _reindex(story)
    return story


def _may_edit(story: KsStory, actor: Any) -> None:
    if story.state in (PUBLISHED, ARCHIVED) and story.base_id is None:
        path = f"/api/v1/stories/{story.id}/checkout"
        raise StoryError({"state": _("A published story is edited through a working copy: POST %(path)s.",
                                     path=path)}, 409)
    if story.state not in (PRIVATE, PENDING):
        raise StoryError({"state": _("This story can no longer be edited.")}, 409)
    mine = story.author_id is not None and story.author_id == getattr(actor, "id", None)
    if story.state == PRIVATE and not mine:
        raise StoryError({"permission": _("Only the author edits a private story.")}, 403)
    if story.state == PENDING and not (mine or has_permission(actor, REVIEW)):
        raise StoryError({"permission": _("Only the author or a reviewer edits a story waiting for review.")}, 403)


def update_story(story: KsStory, data: Mapping[str, Any], actor: Any) -> KsStory:
    """Edit a private or pending story (a published one is edited through :func:`checkout`).
    An edit while pending withdraws an approval of the earlier revision: a reviewer approves
    exactly what they saw (``revision``)."""
    clean = _clean(data, partial=True)
    _may_edit(story, actor)
    _check_result_fields(story, data)
    unit_id, group_id = story.author_unit_id, story.author_group_id
    if "unit" in clean:
        if story.author_id != actor.id:
            raise StoryError({"unit": _("Only the author moves a story to another unit.")}, 422)
        place = _place(actor, clean["unit"])
        unit_id = place.id if isinstance(place, OrgUnit) else None
        group_id = place.id if isinstance(place, PartnerGroup) else None
    visibility = clean.get("visibility", story.visibility)
    scope_unit, scope_group = _scope(visibility, unit_id, group_id)
    before = revision_data(story)
    _apply(story, clean)
    story.author_unit_id, story.author_group_id = unit_id, group_id
    story.visibility, story.scope_unit_id, story.scope_group_id = visibility, scope_unit, scope_group
    _link(story, clean, actor)
    story.updated_at = utcnow()
    db.session.flush()
    after = revision_data(story)
    changed = sorted(k for k in after if before.get(k) != after.get(k))
    if changed:
        audit.record("ks.story.updated", story, summary=f"story {story.id}: {', '.join(changed)[:200]}", actor=actor)
        content_changed(story, actor)
    _reindex(story)
    return story


def checkout(story: KsStory, actor: Any) -> KsStory:
    """The working copy of a published story (created once; the open one is returned again). The
    published story stays online unchanged until a reviewer publishes the copy."""
    if story.base_id is not None:
        raise StoryError({"state": _("This is already a working copy.")}, 409)
    if story.state != PUBLISHED:
        raise StoryError({"state": _("Only a published story is edited through a working copy; "
                                     "edit this one directly.")}, 409)
    from ..workflow import _context

    mine = story.author_id is not None and story.author_id == getattr(actor, "id", None)
    if not (mine or has_permission(actor, WRITE, _context(story))):
        raise StoryError({"permission": _("Only the author or a writer of its unit edits this story.")}, 403)
    # one open copy per story: lock the base row (PostgreSQL) so two check-outs cannot both create one
    db.session.execute(select(KsStory.id).where(KsStory.id == story.id).with_for_update())
    existing = open_copy_id(story)
    if existing is not None:
        copy = db.session.get(KsStory, existing)
        if copy.author_id == getattr(actor, "id", None) or _reviewer(actor):
            return copy
        raise StoryError({"working_copy": _("Someone else is already revising this story; "
                                            "it can be revised again once their version is reviewed.")}, 409)
    copy = KsStory(base_id=story.id, author_id=actor.id, state=PRIVATE, version=story.version,
                   helpful_count=0, reuse_count=0)
    for name in CONTENT_COLUMNS:
        value = getattr(story, name)
        setattr(copy, name, list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict)
                else value)
    db.session.add(copy)
    db.session.flush()
    copy_attachments(story, copy)  # rows for the same stored files (the bytes are shared)
    audit.record("ks.story.checkout", story, summary=f"story {story.id}: working copy {copy.id}", actor=actor)
    _reindex(story)
    return copy


# -- transitions -----------------------------------------------------------------------------------------


def _refused(exc: WorkflowError, name: str) -> StoryError:
    if exc.code == "comment_required" and name == "reject":
        return StoryError({"comment": _("comment required (≥ 10 characters)")}, 422)
    field = {"comment_required": "comment", "comment_invalid": "comment", "revision_changed": "revision",
             "unknown_transition": "transition"}.get(exc.code, "transition")
    if exc.status == 404:
        field = "id"
    return StoryError({field: str(exc.message)}, exc.status)


def _pii_guard(story: KsStory) -> None:
    """Submit refuses personal data: every finding under ``<field>[start:end]`` with its excerpt."""
    from .pii import scan_text

    fields = {"title": story.title or "", **{name: getattr(story, name) or "" for name in TEXT_FIELDS}}
    findings = list(scan_text(fields))
    if not findings:
        return
    labels = {"phone": _("phone number"), "email": _("e-mail address"), "rrn": _("resident registration number"),
              "customer_list": _("customer list")}
    errors: dict[str, str] = {}
    for f in findings:
        errors[f"{f.field}[{f.start}:{f.end}]"] = f"{labels.get(f.kind, f.kind)} {f.excerpt}"
    raise StoryError(errors, 422, findings=[{"field": f.field, "kind": f.kind, "start": f.start, "end": f.end,
                                             "excerpt": f.excerpt} for f in findings])


def _publish_copy(copy: KsStory, actor: Any, now: datetime) -> KsStory:
    """Write a published working copy into its base story (same transaction) and merge the copy."""
    base = db.session.execute(select(KsStory).where(KsStory.id == copy.base_id).with_for_update()).scalar_one()
    for name in CONTENT_COLUMNS:
        value = getattr(copy, name)
        setattr(base, name, list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict)
                else value)
    merge_attachments(copy, base)  # the copy's files become the story's; files it dropped are deleted
    base.version = (base.version or 1) + 1
    base.helpful_count = 0
    base.reviewed_at = now
    base.review_due = _add_months(today_kst(now), review_months())
    base.published_at = base.published_at or now
    base.updated_at = now
    db.session.flush()
    content_changed(base, actor, reason="working copy")
    system_transition(copy, "merge", f"→ story {base.id} v{base.version}")
    return base


def fire(story: KsStory, transition_name: str, actor: Any, comment: str = "", *,
         revision: str | None = None) -> KsStory:
    """Fire a workflow transition through the core workflow, with the add-on's rules around it:
    ``submit`` runs the personal-data guard; ``publish`` of a working copy writes it into its base
    story and merges it; ``publish`` sets the review dates. Returns the story that is now current
    (the base story after a working copy's publish). Raises ``StoryError`` (403/404/409/422) with
    nothing written."""
    if not isinstance(transition_name, str) or not transition_name or transition_name in NOT_FOR_PEOPLE:
        raise StoryError({"transition": _("Unknown transition.")}, 422)
    if comment is not None and not isinstance(comment, str):
        raise StoryError({"comment": _("The comment must be text.")}, 422)
    if revision is not None and not isinstance(revision, str):
        raise StoryError({"revision": _("The revision must be text.")}, 422)
    if comment:  # invisible characters (zero-width spaces, controls) are no reason: a reject needs 10 real ones
        comment = "".join(ch for ch in unicodedata.normalize("NFC", comment)
                          if ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc", "Cs")).strip()
    name = transition_name
    try:
        check_transition(story, name, actor, comment or "", revision=revision)
    except WorkflowError as exc:
        raise _refused(exc, name) from None
    base: KsStory | None = None
    if story.base_id is not None:
        base = db.session.get(KsStory, story.base_id)
        if name == "publish" and (base is None or base.state != PUBLISHED):
            raise StoryError({"state": _("The published story this copy revises is no longer published.")}, 409)
    if name == "submit":
        _pii_guard(story)
    try:
        transition(story, name, actor, comment or "", revision=revision)
    except WorkflowError as exc:
        raise _refused(exc, name) from None
    now = utcnow()
    story.updated_at = now
    current = story
    if name == "publish":
        if base is not None:
            current = _publish_copy(story, actor, now)
        else:
            story.published_at = story.published_at or now
            story.reviewed_at = now
            story.review_due = _add_months(today_kst(now), review_months())
    db.session.flush()
    _reindex(current)
    return current


def revision_data(story: KsStory) -> dict[str, Any]:
    """Every field the story page shows (what a reviewer's approval binds to)."""
    return {
        "title": story.title,
        **{name: getattr(story, name) or "" for name in TEXT_FIELDS},
        "audience_rules": story.audience_rules,
        "channels": list(story.channels or []),
        "category_id": story.category_id,
        "rfm_segment": story.rfm_segment,
        "season": story.season,
        "keywords": list(story.keywords or []),
        "visibility": story.visibility,
        "author_unit_id": story.author_unit_id,
        "author_group_id": story.author_group_id,
        "scope_unit_id": story.scope_unit_id,
        "scope_group_id": story.scope_group_id,
        "campaign_id": story.campaign_id,
        "programme_id": story.programme_id,
        "result": story.result,
        "result_mark": story.result_mark,
        "attachments": [{"file_id": a.file_id, "filename": a.filename, "mime": a.mime, "size": a.size}
                        for a in story.attachments],
    }


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() + ("Z" if isinstance(value, datetime) else "")


def _lookups(stories: list[KsStory]) -> tuple[dict[int, OrgUnit], dict[int, PartnerGroup], dict[int, Category],
                                              dict[int, User]]:
    """Units, groups, categories and authors of ``stories`` in four queries (never one per row)."""
    unit_ids = {s.author_unit_id for s in stories} | {s.scope_unit_id for s in stories}
    group_ids = {s.author_group_id for s in stories} | {s.scope_group_id for s in stories}
    cat_ids = {s.category_id for s in stories}
    user_ids = {s.author_id for s in stories}

    def load(model: Any, ids: set[Any]) -> dict[int, Any]:
        ids = {i for i in ids if i is not None}
        if not ids:
            return {}
        return {o.id: o for o in db.session.execute(select(model).where(model.id.in_(sorted(ids)))).scalars()}

    return load(OrgUnit, unit_ids), load(PartnerGroup, group_ids), load(Category, cat_ids), load(User, user_ids)


def _unit_doc(unit: OrgUnit | None) -> dict[str, Any] | None:
    return None if unit is None else {"code": unit.code, "name": unit.name, "kind": unit.kind}


def _group_doc(group: PartnerGroup | None) -> dict[str, Any] | None:
    return None if group is None else {"code": group.code, "name": group.name}


def _urls(story: KsStory) -> dict[str, str]:
    if not has_request_context():
        return {}
    from flask import current_app

    urls = {"self": url_for("ks_stories_api.show", story_id=story.id),
            "history": url_for("ks_stories_api.history", story_id=story.id),
            "transitions": url_for("ks_stories_api.transitions", story_id=story.id)}
    if story.base_id is None:
        urls["checkout"] = url_for("ks_stories_api.checkout_copy", story_id=story.id)
    if "ks_stories.detail" in current_app.view_functions:
        urls["page"] = url_for("ks_stories.detail", story_id=story.id)
    return urls


def _summary(story: KsStory, units: dict[int, OrgUnit], groups: dict[int, PartnerGroup],
             cats: dict[int, Category], users: dict[int, User], today: date) -> dict[str, Any]:
    cat = cats.get(story.category_id) if story.category_id else None
    author = users.get(story.author_id) if story.author_id else None
    return {
        "id": story.id,
        "base_id": story.base_id,
        "title": story.title,
        "summary": story.summary or "",
        "state": story.state,
        "version": story.version,
        "visibility": story.visibility,
        "tags": {"category": None if cat is None else {"code": cat.code, "name_ko": cat.name_ko, "name_en": cat.name_en},
                 "channels": list(story.channels or []), "rfm_segment": story.rfm_segment, "season": story.season,
                 "keywords": list(story.keywords or [])},
        "author": None if author is None else {"id": author.id, "name": author.name},
        "unit": _unit_doc(units.get(story.author_unit_id) if story.author_unit_id else None),
        "group": _group_doc(groups.get(story.author_group_id) if story.author_group_id else None),
        "result_mark": story.result_mark,
        "helpful_count": story.helpful_count or 0,
        "reuse_count": story.reuse_count or 0,
        "needs_review": needs_review(story, today),
        "published_at": _iso(story.published_at),
        "updated_at": _iso(story.updated_at),
        "urls": _urls(story),
    }


def story_summaries(stories: list[KsStory]) -> list[dict[str, Any]]:
    """The short documents of a list page (lookups in a fixed number of queries)."""
    units, groups, cats, users = _lookups(stories)
    today = today_kst()
    return [_summary(s, units, groups, cats, users, today) for s in stories]


def history_document(story: KsStory) -> list[dict[str, Any]]:
    """The workflow history, oldest first: from, to, transition, actor, time, comment. A base
    story's history includes its working copies' reviews (``copy_id`` set on those entries), so
    the comments on every revision stay with the story."""
    rows = [(r, None) for r in workflow_history(story)]
    if story.base_id is None:
        copies = db.session.execute(select(KsStory).where(KsStory.base_id == story.id).order_by(KsStory.id)).scalars()
        for copy in copies:
            rows.extend((r, copy.id) for r in workflow_history(copy))
        rows.sort(key=lambda pair: pair[0].id)
    actor_ids = sorted({r.actor_id for r, _c in rows if r.actor_id is not None})
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(actor_ids))).all()) if actor_ids else {}
    return [{"from": r.from_state, "to": r.to_state, "transition": r.transition,
             "actor": None if r.actor_id is None else {"id": r.actor_id, "name": names.get(r.actor_id)},
             "at": _iso(r.at), "comment": r.comment or "", "copy_id": copy_id} for r, copy_id in rows]


def story_document(story: KsStory, user: Any) -> dict[str, Any]:
    """The API's JSON of one story, with ``result`` and its mark."""
    from ..results.service import result_block

    units, groups, cats, users = _lookups([story])
    doc = _summary(story, units, groups, cats, users, today_kst())
    doc.update({name: getattr(story, name) or "" for name in TEXT_FIELDS})
    doc.update({
        "audience_rules": story.audience_rules,
        "channels": list(story.channels or []),
        "category": doc["tags"]["category"]["code"] if doc["tags"]["category"] else None,
        "rfm_segment": story.rfm_segment,
        "season": story.season,
        "keywords": list(story.keywords or []),
        "scope": {"unit": _unit_doc(units.get(story.scope_unit_id) if story.scope_unit_id else None),
                  "group": _group_doc(groups.get(story.scope_group_id) if story.scope_group_id else None)},
        "campaign_id": story.campaign_id,
        "programme_id": story.programme_id,
        "result": result_block(story),
        "reviewed_at": _iso(story.reviewed_at),
        "review_due": _iso(story.review_due),
        "created_at": _iso(story.created_at),
        "working_copy": open_copy_id(story),
        "revision": current_revision(story),
        "transitions": transitions_for(story, user),
        "attachments": [_attachment_doc(a) for a in story.attachments],
        "history": history_document(story),
    })
    return doc


def _attachment_doc(a: KsAttachment) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": a.id, "filename": a.filename, "mime": a.mime, "size": a.size}
    if has_request_context():
        from flask import current_app

        if "ks_attachments.download" in current_app.view_functions:
            doc["url"] = url_for("ks_attachments.download", attachment_id=a.id)
    return doc

