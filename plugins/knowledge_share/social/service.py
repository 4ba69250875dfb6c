"""Comments, "helpful" votes, followed tags, digests and the freshness flag.

Rules every function keeps (the pages and the API only translate):

- comments and votes only on a *published base story* the user may see: an invisible or missing
  story is 404 (the same answer — existence is never revealed), a visible story that is not
  published is 409;
- one vote per person per story *version* (``uq_ks_vote``): the vote is an ``INSERT … ON CONFLICT
  DO NOTHING`` and ``ks_story.helpful_count`` moves by exactly the rows the statement wrote, in the
  same transaction, for the same version only — a double click or two workers racing count once,
  and a vote for a version replaced meanwhile changes nothing;
- a comment is 1–2,000 characters of plain text (escaped on display), refused when the
  personal-data guard finds a phone number, e-mail or resident registration number in it;
  a moderator hides it with a reason (audited) and the page keeps a placeholder;
- a digest per follower lists the new stories of their followed tags that *they* may see
  (``visible_filter`` of that follower, in SQL), once per Korean day;
- a published story whose ``review_due`` has come is flagged "needs review" (never hidden) and its
  author is told once per due date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, delete, exists, false, func, literal_column, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from portal.toolkit import (
    Category,
    User,
    audit,
    db,
    dialect_insert,
    get_settings,
    has_global_permission,
    has_permission,
    is_postgres,
    notify,
    paginate,
    utcnow,
)

from ..errors import StoryError
from ..models import ARCHIVED, PUBLISHED, SEASONS, STORY_CHANNELS, KsComment, KsFollow, KsStory, KsVote
from ..permissions import MODERATE, REVIEW, SEE_ALL, VIEW, WRITE
from ..stories.visibility import visible_filter

SEOUL = ZoneInfo("Asia/Seoul")
COMMENT_MAX = 2000
HIDE_REASON_MIN, HIDE_REASON_MAX = 3, 200
FOLLOW_KINDS = ("category", "channel", "rfm", "season", "keyword")
KEYWORD_MAX = 30
FOLLOWS_MAX = 50
#: Stories listed in one digest's text (the rest are counted; the link opens the full list).
DIGEST_LIST_MAX = 10
#: The RFM segment codes of the core's scoring (``portal/analytics/rfm.py``), a story's ``rfm_segment``.
RFM_SEGMENTS: dict[str, Any] = {
    "champions": _l("Champions"), "loyal": _l("Loyal"), "potential_loyalist": _l("Potential loyalists"),
    "new_customers": _l("New customers"), "promising": _l("Promising"), "need_attention": _l("Need attention"),
    "about_to_sleep": _l("About to sleep"), "at_risk": _l("At risk"), "cannot_lose": _l("Cannot lose them"),
    "hibernating": _l("Hibernating"), "lost": _l("Lost"),
}
CHANNEL_LABELS: dict[str, Any] = {
    "email": _l("E-mail"), "sms": _l("SMS"), "kakao": _l("KakaoTalk"), "push": _l("App push"),
    "dm": _l("Postal DM"), "phone": _l("Phone call"), "visit": _l("Visit"), "seminar": _l("Seminar"),
    "store": _l("In store"),
}
SEASON_LABELS: dict[str, Any] = {
    "spring": _l("Spring"), "summer": _l("Summer"), "autumn": _l("Autumn"), "winter": _l("Winter"),
    "new_year": _l("New Year (Seollal)"), "chuseok": _l("Chuseok"), "year_end": _l("Year end"),
    "any": _l("Any season"),
}
KIND_LABELS: dict[str, Any] = {
    "category": _l("Product category"), "channel": _l("Channel"), "rfm": _l("RFM segment"),
    "season": _l("Season"), "keyword": _l("Keyword"),
}
#: Plugin setting (``portal_settings_schema``) the lead wires: how often digests go out.
SETTINGS_SCHEMA: list[dict[str, Any]] = [
    {"name": "digest", "label": _l("Digest of followed tags"), "type": "choice", "default": "daily",
     "choices": [("daily", _l("Daily (08:30)")), ("weekly", _l("Weekly (Monday 08:30)"))],
     "help": _l("How often followers get the new success stories of the tags they follow.")},
]

__all__ = [
    "COMMENT_MAX", "FOLLOW_KINDS", "StoryError", "published_story_or_404", "story_or_404", "comments_page",
    "add_comment", "comment_or_404", "hide_comment", "unhide_comment", "vote", "unvote", "has_voted",
    "voted_ids", "follows_of", "follow", "unfollow", "follow_label", "story_tags", "send_digests",
    "needs_review", "needs_review_expr", "notify_needs_review", "seoul_today", "comment_dict", "follow_dict",
]


# --- time


def seoul_today(now: datetime | None = None) -> date:
    """The Korean date of ``now`` (naive UTC, like every stored time)."""
    now = now or utcnow()
    return now.replace(tzinfo=ZoneInfo("UTC")).astimezone(SEOUL).date()


# --- the story a comment or vote is about


def _parse_id(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        value = int(raw)
    else:
        return None
    return value if 0 < value < 2**63 else None


def _readable(user: Any) -> ColumnElement[bool]:
    """Published and archived stories for their audience; drafts and pending ones only for their
    author and for those who see every story (reviewers, HQ)."""
    if has_global_permission(user, SEE_ALL):
        return true()
    return or_(KsStory.state.in_((PUBLISHED, ARCHIVED)), KsStory.author_id == user.id)


def story_or_404(story_id: Any, user: Any) -> KsStory:
    """The base story if ``user`` may see it (``visible_filter``; a draft only its author), else
    404 like a missing id."""
    ident = _parse_id(story_id)
    story = None
    if ident is not None and has_permission(user, VIEW):
        story = db.session.execute(
            select(KsStory).where(KsStory.id == ident, KsStory.base_id.is_(None), visible_filter(user),
                                  _readable(user))
        ).scalar_one_or_none()
    if story is None:
        raise StoryError({"": _("No story with this id.")}, 404)
    return story


def published_story_or_404(story_id: Any, user: Any) -> KsStory:
    """:func:`story_or_404`, and 409 unless it is published (comments and votes need that)."""
    story = story_or_404(story_id, user)
    if story.state != PUBLISHED:
        raise StoryError({"": _("Only published stories take comments and votes.")}, 409)
    return story


# --- comments


@dataclass
class CommentRow:
    """A comment as the page and the API show it: the body is ``None`` when hidden, except to moderators."""

    id: int
    story_id: int
    version: int
    author_id: int | None
    author_name: str
    body: str | None
    hidden: bool
    hidden_reason: str | None
    hidden_at: datetime | None
    created_at: datetime
    mine: bool


def _author_label(u: User | None) -> str:
    if u is None:
        return _("Former user")
    return (u.name or u.email.split("@")[0])[:80]


def comments_page(story: KsStory, user: Any, page: int = 1, per_page: int = 20) -> Any:
    """One page of the story's comments, oldest first, authors joined in the same query; hidden
    bodies are replaced by ``None`` unless ``user`` moderates."""
    moderator = has_permission(user, MODERATE)
    stmt = (select(KsComment, User).outerjoin(User, User.id == KsComment.author_id)
            .where(KsComment.story_id == story.id).order_by(KsComment.created_at, KsComment.id))
    result = paginate(stmt, page, per_page, scalars=False)
    rows = []
    for c, u in result.items:
        show = not c.hidden or moderator
        rows.append(CommentRow(c.id, c.story_id, c.version, c.author_id, _author_label(u), c.body if show else None,
                               c.hidden, c.hidden_reason if moderator else None, c.hidden_at, c.created_at,
                               c.author_id is not None and c.author_id == getattr(user, "id", None)))
    result.items = rows
    return result


def _utf8(text: str) -> bool:
    """False for text a database cannot store (a lone surrogate from JSON's ``\\ud800``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_comment(body: Any) -> str:
    """The comment's text, or a 422 at ``body`` (also ``body[a:b]`` spans of personal data)."""
    from ..stories.pii import scan_text

    if not isinstance(body, str):
        raise StoryError({"body": _("Write a comment.")})
    text = body.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if not _utf8(text):
        raise StoryError({"body": _("Write a comment.")})
    if not text:
        raise StoryError({"body": _("Write a comment.")})
    if len(text) > COMMENT_MAX:
        raise StoryError({"body": _("At most %(n)s characters.", n=f"{COMMENT_MAX:,}")})
    findings = scan_text({"body": text})
    if findings:
        errors = {f"body[{f.start}:{f.end}]": _("Personal data (%(kind)s) is not allowed in a comment: %(excerpt)s",
                                                 kind=f.kind, excerpt=f.excerpt) for f in findings}
        raise StoryError(errors, 422, findings=[{"field": f.field, "kind": f.kind, "start": f.start, "end": f.end,
                                                 "excerpt": f.excerpt} for f in findings])
    return text


def add_comment(story_id: Any, user: Any, body: Any) -> KsComment:
    """A comment on a published story ``user`` may see, on its current version (not committed)."""
    if not has_permission(user, VIEW):
        raise StoryError({"": _("No story with this id.")}, 404)
    story = published_story_or_404(story_id, user)
    text = clean_comment(body)
    comment = KsComment(story_id=story.id, version=story.version, author_id=user.id, body=text, created_at=utcnow())
    db.session.add(comment)
    db.session.flush()
    return comment


def comment_or_404(comment_id: Any, user: Any) -> KsComment:
    """A comment on a base story ``user`` may see; 404 otherwise."""
    ident = _parse_id(comment_id)
    row = None
    if ident is not None:
        row = db.session.execute(
            select(KsComment).join(KsStory, KsStory.id == KsComment.story_id)
            .where(KsComment.id == ident, KsStory.base_id.is_(None), visible_filter(user), _readable(user))
        ).scalar_one_or_none()
    if row is None:
        raise StoryError({"": _("No comment with this id.")}, 404)
    return row


def hide_comment(comment_id: Any, user: Any, reason: Any) -> KsComment:
    """Hide a comment (moderators; a reason of 3–200 characters; audited). Hiding twice is a no-op."""
    comment = comment_or_404(comment_id, user)
    if not has_permission(user, MODERATE):
        raise StoryError({"": _("Only moderators hide comments.")}, 403)
    text = reason.strip() if isinstance(reason, str) and _utf8(reason) else ""
    if not HIDE_REASON_MIN <= len(text) <= HIDE_REASON_MAX:
        raise StoryError({"reason": _("Give a reason of %(a)s to %(b)s characters.", a=HIDE_REASON_MIN,
                                      b=HIDE_REASON_MAX)})
    if comment.hidden:
        return comment
    comment.hidden, comment.hidden_by_id, comment.hidden_at, comment.hidden_reason = True, user.id, utcnow(), text
    audit.record("ks.comment_hidden", comment, summary=f"story {comment.story_id}: {text}", actor=user,
                 changes={"hidden": (False, True)})
    db.session.flush()
    return comment


def unhide_comment(comment_id: Any, user: Any) -> KsComment:
    """Show a hidden comment again (moderators; audited)."""
    comment = comment_or_404(comment_id, user)
    if not has_permission(user, MODERATE):
        raise StoryError({"": _("Only moderators hide comments.")}, 403)
    if not comment.hidden:
        return comment
    audit.record("ks.comment_unhidden", comment, summary=f"story {comment.story_id}: {comment.hidden_reason or ''}",
                 actor=user, changes={"hidden": (True, False)})
    comment.hidden, comment.hidden_by_id, comment.hidden_at, comment.hidden_reason = False, None, None, None
    db.session.flush()
    return comment


def comment_dict(c: CommentRow | KsComment, user: Any | None = None) -> dict[str, Any]:
    """The API's JSON of a comment (a hidden one without its body, except to moderators)."""
    if isinstance(c, KsComment):
        moderator = user is not None and has_permission(user, MODERATE)
        author = db.session.get(User, c.author_id) if c.author_id else None
        c = CommentRow(c.id, c.story_id, c.version, c.author_id, _author_label(author),
                       c.body if (not c.hidden or moderator) else None, c.hidden,
                       c.hidden_reason if moderator else None, c.hidden_at, c.created_at,
                       user is not None and c.author_id == getattr(user, "id", None))
    out: dict[str, Any] = {"id": c.id, "story_id": c.story_id, "version": c.version, "author": c.author_name,
                           "body": c.body, "hidden": c.hidden, "created_at": c.created_at.isoformat() + "Z"}
    if c.hidden_reason is not None:
        out["hidden_reason"] = c.hidden_reason
    return out


# --- helpful votes


def _story_count(story_id: int) -> int:
    return db.session.execute(select(KsStory.helpful_count).where(KsStory.id == story_id)).scalar_one()


def vote(story_id: Any, user: Any) -> tuple[KsStory, bool]:
    """``user`` finds the story's current version helpful. Returns ``(story, created)``; a second vote
    (double click, two tabs, two workers) creates nothing and counts nothing. Not committed."""
    story = published_story_or_404(story_id, user)
    if story.author_id is not None and story.author_id == user.id:
        raise StoryError({"": _("Others decide whether your own story helped them.")}, 403)
    version = story.version
    stmt = dialect_insert(KsVote.__table__).values(story_id=story.id, version=version, user_id=user.id,
                                                   created_at=utcnow())
    stmt = stmt.on_conflict_do_nothing(index_elements=["story_id", "version", "user_id"]).returning(KsVote.id)
    try:
        with db.session.begin_nested():
            created = db.session.execute(stmt).first() is not None
    except IntegrityError:  # a constraint other than the vote's own (e.g. the user was deleted meanwhile)
        created = False
    if created:
        db.session.execute(update(KsStory).where(KsStory.id == story.id, KsStory.version == version)
                           .values(helpful_count=KsStory.helpful_count + 1)
                           .execution_options(synchronize_session=False))
    db.session.refresh(story, ["helpful_count", "version"])
    return story, created


def unvote(story_id: Any, user: Any) -> tuple[KsStory, bool]:
    """Take back one's vote on the current version; ``(story, removed)``. Not committed."""
    story = published_story_or_404(story_id, user)
    version = story.version
    removed = db.session.execute(delete(KsVote).where(KsVote.story_id == story.id, KsVote.version == version,
                                                      KsVote.user_id == user.id)).rowcount == 1
    if removed:
        db.session.execute(update(KsStory).where(KsStory.id == story.id, KsStory.version == version,
                                                 KsStory.helpful_count > 0)
                           .values(helpful_count=KsStory.helpful_count - 1)
                           .execution_options(synchronize_session=False))
    db.session.refresh(story, ["helpful_count", "version"])
    return story, removed


def has_voted(story: KsStory, user: Any) -> bool:
    """Did ``user`` vote for the story's current version?"""
    if not getattr(user, "is_authenticated", False):
        return False
    return db.session.execute(select(exists().where(KsVote.story_id == story.id, KsVote.version == story.version,
                                                    KsVote.user_id == user.id))).scalar_one()


def voted_ids(user: Any, story_ids: Iterable[int]) -> set[int]:
    """Of ``story_ids``, those whose current version ``user`` voted for (one query, for lists)."""
    ids = sorted({int(i) for i in story_ids})
    if not ids or not getattr(user, "is_authenticated", False):
        return set()
    rows = db.session.execute(select(KsVote.story_id).join(KsStory, and_(KsStory.id == KsVote.story_id,
                                                                         KsStory.version == KsVote.version))
                              .where(KsVote.user_id == user.id, KsVote.story_id.in_(ids))).scalars()
    return set(rows)


# --- followed tags


def _category_labels(ids: Iterable[int]) -> dict[int, Category]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {c.id: c for c in db.session.execute(select(Category).where(Category.id.in_(ids))).scalars()}


def _locale() -> str:
    from flask_babel import get_locale

    loc = get_locale()
    return str(loc.language) if loc else "ko"


def follow_label(kind: str, value: str, categories: Mapping[int, Category] | None = None) -> str:
    """The tag as the reader says it (a category's name in their language, a channel's label …)."""
    if kind == "category":
        cat = (categories or {}).get(int(value)) if value.isdigit() else None
        if cat is None and value.isdigit():
            cat = db.session.get(Category, int(value))
        if cat is None:
            return value
        return cat.name_ko if _locale() == "ko" else cat.name_en
    labels = {"channel": CHANNEL_LABELS, "rfm": RFM_SEGMENTS, "season": SEASON_LABELS}.get(kind)
    if labels and value in labels:
        return str(labels[value])
    return value


def clean_follow(kind: Any, value: Any) -> tuple[str, str]:
    """``(kind, value)`` as stored, or a 422 by field (values checked against the known ones)."""
    if kind not in FOLLOW_KINDS:
        raise StoryError({"kind": _("One of: %(kinds)s.", kinds=", ".join(FOLLOW_KINDS))})
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise StoryError({"value": _("Choose what to follow.")})
    text = str(value).strip()
    if not _utf8(text):
        raise StoryError({"value": _("Choose what to follow.")})
    if kind == "category":
        ident = _parse_id(text)
        if ident is None or db.session.get(Category, ident) is None:
            code = db.session.execute(select(Category.id).where(Category.code == text)).scalar_one_or_none()
            if code is None:
                raise StoryError({"value": _("No such product category.")})
            ident = code
        return kind, str(ident)
    known = {"channel": STORY_CHANNELS, "rfm": tuple(RFM_SEGMENTS), "season": SEASONS}.get(kind)
    if known is not None:
        if text not in known:
            raise StoryError({"value": _("One of: %(values)s.", values=", ".join(known))})
        return kind, text
    text = " ".join(text.split()).lower()
    if not text or len(text) > KEYWORD_MAX:
        raise StoryError({"value": _("A keyword of 1 to %(n)s characters.", n=KEYWORD_MAX)})
    return kind, text


def follows_of(user: Any) -> list[KsFollow]:
    """``user``'s followed tags, in the order of the kinds, then by value."""
    rows = db.session.execute(select(KsFollow).where(KsFollow.user_id == user.id)).scalars().all()
    return sorted(rows, key=lambda f: (FOLLOW_KINDS.index(f.kind) if f.kind in FOLLOW_KINDS else 99, f.value))


def follow(user: Any, kind: Any, value: Any) -> tuple[KsFollow, bool]:
    """Follow a tag: ``(follow, created)``; following it again returns the existing row. Only stories
    published from now on go into digests. Not committed."""
    if not has_permission(user, VIEW):
        raise StoryError({"": _("You may not do this.")}, 403)
    kind, value = clean_follow(kind, value)
    existing = db.session.execute(select(KsFollow).where(KsFollow.user_id == user.id, KsFollow.kind == kind,
                                                         KsFollow.value == value)).scalar_one_or_none()
    if existing is not None:
        return existing, False
    count = db.session.execute(select(func.count()).select_from(KsFollow).where(KsFollow.user_id == user.id)
                               ).scalar_one()
    if count >= FOLLOWS_MAX:
        raise StoryError({"": _("You follow %(n)s tags already; unfollow one first.", n=FOLLOWS_MAX)}, 409)
    now = utcnow()
    stmt = dialect_insert(KsFollow.__table__).values(user_id=user.id, kind=kind, value=value, created_at=now,
                                                     digested_until=now)
    db.session.execute(stmt.on_conflict_do_nothing(index_elements=["user_id", "kind", "value"]))
    row = db.session.execute(select(KsFollow).where(KsFollow.user_id == user.id, KsFollow.kind == kind,
                                                    KsFollow.value == value)).scalar_one()
    return row, True


def unfollow(user: Any, follow_id: Any = None, *, kind: Any = None, value: Any = None) -> bool:
    """Stop following (by the follow's id, or by kind and value); only one's own. Not committed."""
    if follow_id is not None:
        ident = _parse_id(follow_id)
        if ident is None:
            raise StoryError({"": _("You do not follow this.")}, 404)
        cond = KsFollow.id == ident
    else:
        kind, value = clean_follow(kind, value)
        cond = and_(KsFollow.kind == kind, KsFollow.value == value)
    removed = db.session.execute(delete(KsFollow).where(KsFollow.user_id == user.id, cond)).rowcount
    if not removed:
        raise StoryError({"": _("You do not follow this.")}, 404)
    return True


def follow_dict(f: KsFollow, categories: Mapping[int, Category] | None = None) -> dict[str, Any]:
    return {"id": f.id, "kind": f.kind, "value": f.value, "label": follow_label(f.kind, f.value, categories),
            "created_at": f.created_at.isoformat() + "Z"}


def story_tags(story: KsStory) -> list[tuple[str, str]]:
    """The story's followable tags as ``(kind, value)``."""
    tags: list[tuple[str, str]] = []
    if story.category_id is not None:
        tags.append(("category", str(story.category_id)))
    tags.extend(("channel", c) for c in (story.channels or []) if c in STORY_CHANNELS)
    if story.rfm_segment:
        tags.append(("rfm", story.rfm_segment))
    if story.season:
        tags.append(("season", story.season))
    for k in story.keywords or []:
        if isinstance(k, str) and k.strip():
            tags.append(("keyword", " ".join(k.split()).lower()[:KEYWORD_MAX]))
    seen: set[tuple[str, str]] = set()
    return [t for t in tags if not (t in seen or seen.add(t))]


# --- SQL: does a story carry a tag?


def _json_has(column: Any, value: str, *, lower: bool = False) -> ColumnElement[bool]:
    """``value`` is an element of the JSON list ``column`` (SQLite ``json_each``, PostgreSQL
    ``json_array_elements_text``), optionally compared in lower case."""
    if is_postgres():
        array = case((func.json_typeof(column) == "array", column), else_=literal_column("'[]'::json"))
        elems = func.json_array_elements_text(array).table_valued("value")
    else:
        elems = func.json_each(column).table_valued("value")
    left = func.lower(elems.c.value) if lower else elems.c.value
    return exists(select(1).select_from(elems).where(left == value))


def tag_condition(kind: str, value: str, model: Any = KsStory) -> ColumnElement[bool]:
    """SQL: stories of ``model`` carrying the tag."""
    if kind == "category":
        return model.category_id == int(value) if value.isdigit() else false()
    if kind == "channel":
        return _json_has(model.channels, value)
    if kind == "rfm":
        return model.rfm_segment == value
    if kind == "season":
        return model.season == value
    if kind == "keyword":
        return _json_has(model.keywords, value, lower=True)
    return false()


# --- digests


def _digest_setting() -> str:
    try:
        value = get_settings("knowledge_share").get("digest")
    except Exception:  # noqa: BLE001 - settings not declared yet: the default
        value = None
    return value if value in ("daily", "weekly") else "daily"


def digest_stories(user: User, follows: list[KsFollow], now: datetime) -> list[KsStory]:
    """New published base stories in ``user``'s followed tags that ``user`` may see, newest first:
    each follow counts from its own ``digested_until``; one query."""
    conds = [and_(tag_condition(f.kind, f.value), KsStory.published_at > (f.digested_until or f.created_at))
             for f in follows]
    if not conds:
        return []
    stmt = (select(KsStory).where(KsStory.state == PUBLISHED, KsStory.base_id.is_(None),
                                  KsStory.published_at <= now, or_(*conds), visible_filter(user),
                                  or_(KsStory.author_id.is_(None), KsStory.author_id != user.id))
            .order_by(KsStory.published_at.desc(), KsStory.id.desc()).limit(DIGEST_LIST_MAX + 1))
    return list(db.session.execute(stmt).scalars())


def digest_count(user: User, follows: list[KsFollow], now: datetime) -> int:
    conds = [and_(tag_condition(f.kind, f.value), KsStory.published_at > (f.digested_until or f.created_at))
             for f in follows]
    return db.session.execute(
        select(func.count()).select_from(KsStory).where(
            KsStory.state == PUBLISHED, KsStory.base_id.is_(None), KsStory.published_at <= now, or_(*conds),
            visible_filter(user), or_(KsStory.author_id.is_(None), KsStory.author_id != user.id))
    ).scalar_one()


def _story_path(story_id: int) -> str:
    return f"/stories/{story_id}"


def send_digest_to(user: User, now: datetime) -> int:
    """One follower's digest: one ``ks.digest`` notification (de-duplicated per user and Korean
    day) listing the new stories, then ``digested_until`` moves to ``now``. Returns the number of
    stories announced (0: nothing new, or today's digest already went out — then nothing moves,
    and the stories wait for the next one). Not committed."""
    follows = follows_of(user)
    if not follows:
        return 0
    stories = digest_stories(user, follows, now)
    if not stories:
        db.session.execute(update(KsFollow).where(KsFollow.user_id == user.id).values(digested_until=now))
        return 0
    total = len(stories) if len(stories) <= DIGEST_LIST_MAX else digest_count(user, follows, now)
    day = seoul_today(now)
    with force_locale(getattr(user, "locale", None) or "ko"):
        lines = [f"• {s.title}" for s in stories[:DIGEST_LIST_MAX]]
        if total > DIGEST_LIST_MAX:
            lines.append(_("… and %(n)s more", n=total - DIGEST_LIST_MAX))
        head = _("%(n)s new success stories in tags you follow:", n=total) if total != 1 else \
            _("A new success story in a tag you follow:")
        text = head + "\n" + "\n".join(lines)
    url = _story_path(stories[0].id) if total == 1 else "/stories/social/follows"
    created = notify(user, "ks.digest", None, text, url=url, dedupe_key=f"ks.digest:{user.id}:{day.isoformat()}")
    if not created:
        return 0
    db.session.execute(update(KsFollow).where(KsFollow.user_id == user.id).values(digested_until=now))
    return total


def send_digests(now: datetime | None = None, *, force: bool = False) -> dict[str, int]:
    """The digest job's body: every follower once (weekly setting: Mondays only, unless ``force``).
    Commits per follower; one follower's failure is rolled back, logged and does not stop the others."""
    import logging

    now = now or utcnow()
    if not force and _digest_setting() == "weekly" and seoul_today(now).weekday() != 0:
        return {"users": 0, "stories": 0, "skipped": 1}
    user_ids = db.session.execute(select(KsFollow.user_id).distinct().order_by(KsFollow.user_id)).scalars().all()
    db.session.commit()
    sent = stories = 0
    for uid in user_ids:
        try:
            user = db.session.get(User, uid)
            if user is None or not user.is_active:
                continue
            n = send_digest_to(user, now)
            db.session.commit()
        except Exception:  # noqa: BLE001 - one follower must not stop the others
            db.session.rollback()
            logging.getLogger(__name__).exception("ks digest failed for user %s", uid)
            continue
        if n:
            sent += 1
            stories += n
    return {"users": sent, "stories": stories, "skipped": 0}


# --- freshness


def needs_review(story: KsStory, today: date | None = None) -> bool:
    """A published story whose review date has passed (``review_due`` before today) — flagged, not hidden."""
    today = today or seoul_today()
    return story.state == PUBLISHED and story.review_due is not None and story.review_due < today


def needs_review_expr(today: date | None = None, model: Any = KsStory) -> ColumnElement[bool]:
    """SQL of :func:`needs_review` for lists (``select(..., needs_review_expr(today).label("stale"))``)."""
    today = today or seoul_today()
    return and_(model.state == PUBLISHED, model.review_due.is_not(None), model.review_due < today)


def may_see_freshness(story: KsStory, user: Any) -> bool:
    """The flag is shown to the story's author and to reviewers."""
    return (story.author_id is not None and story.author_id == getattr(user, "id", None)) or \
        has_permission(user, REVIEW)


def notify_needs_review(now: datetime | None = None, batch: int = 500) -> int:
    """The freshness job's body: tell each author once per due date that their story needs a
    review (``ks.needs_review``, de-duplicated per story and due date). Commits per batch."""
    now = now or utcnow()
    today = seoul_today(now)
    last_id, told = 0, 0
    while True:
        rows = db.session.execute(
            select(KsStory.id, KsStory.title, KsStory.author_id, KsStory.review_due, User.locale)
            .join(User, User.id == KsStory.author_id)
            .where(KsStory.base_id.is_(None), needs_review_expr(today), KsStory.id > last_id, User.active.is_(True))
            .order_by(KsStory.id).limit(batch)
        ).all()
        if not rows:
            break
        for sid, title, author_id, due, locale in rows:
            with force_locale(locale or "ko"):
                text = _("“%(title)s” was last reviewed more than a year ago (review due %(due)s). Check that it "
                         "is still right and send it for review again, or archive it.", title=title,
                         due=due.isoformat())
            told += notify(author_id, "ks.needs_review", None, text, url=_story_path(sid),
                           title=title, dedupe_key=f"ks.needs_review:{sid}:{due.isoformat()}")
        last_id = rows[-1][0]
        db.session.commit()
    return told


def stale_stories_of(user: Any, today: date | None = None, limit: int = 5) -> tuple[list[KsStory], int]:
    """The author's published stories that need a review (their dashboard box): a few and the count."""
    cond = and_(KsStory.author_id == user.id, KsStory.base_id.is_(None), needs_review_expr(today))
    items = db.session.execute(select(KsStory).where(cond).order_by(KsStory.review_due, KsStory.id)
                               .limit(limit)).scalars().all()
    total = db.session.execute(select(func.count()).select_from(KsStory).where(cond)).scalar_one()
    return list(items), total


def review_due_from(reviewed_at: datetime, months: int = 12) -> date:
    """``reviewed_at`` (naive UTC) + ``months`` as a Korean date (31 January + 1 month → 28/29 February)."""
    d = seoul_today(reviewed_at)
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, min(d.day, day))
        except ValueError:
            continue
    return d + timedelta(days=365)


def can_write(user: Any) -> bool:
    return has_permission(user, WRITE)
