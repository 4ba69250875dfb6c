"""Notifications: who gets one, the inbox, preferences, e-mail by preference and the daily digest.

``notify`` resolves its recipients in SQL (users, ids, or a role within a scope) and inserts one
row per recipient in one ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` statement, so a
``dedupe_key`` creates at most one row per recipient even when two workers race (the UNIQUE
constraint decides, on SQLite and PostgreSQL alike). E-mails go through the messaging outbox
(purpose ``service``) and carry the kind's label, a neutral sentence and a link — never the
notification's title or text, which may name a customer: those are shown only in the inbox, to
the recipient.

Nothing here commits: ``notify`` and the inbox helpers write in the caller's transaction, so a
notification exists exactly when the work it reports was saved. The digest job commits per user.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, g, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    DateTime,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    union,
    update,
)

from ..bounds import kst_date, kst_to_utc
from ..db_utils import chunked, dialect_insert, is_postgres
from ..extensions import db
from ..models import LocalRole, OrgUnit, PartnerGroup, User, UserRole
from ..models.base import utcnow
from .models import CHANNELS, Notification, NotificationPreference

log = logging.getLogger("portal.notify")

SOURCE = "core.notify"
KIND_RE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,79}")
MAX_TITLE = 200
MAX_TEXT = 2000
MAX_URL = 500
MAX_DEDUPE_KEY = 200
BADGE_CAP = 99  # the header shows "99+": counting further would cost more and say nothing new
CHUNK = 5000  # recipient ids per INSERT … SELECT (well under SQLite's bound-parameter limit)

CHANNEL_LABELS = {"inbox": _l("Inbox only"), "email": _l("E-mail at once"), "digest": _l("Daily digest e-mail")}

# The core's own kinds; services and add-ons add theirs through ``portal_notification_kinds``.
CORE_KINDS: list[dict[str, Any]] = [
    {"kind": "portal.notice", "label": _l("Notices from the portal"), "email_default": False, "order": 0},
]


class NotifyError(ValueError):
    """A call to :func:`notify` that cannot be honoured (unknown kind, bad URL, bad recipient)."""


# -- kinds ---------------------------------------------------------------------------------------


def kinds() -> list[dict[str, Any]]:
    """Every notification kind users can set a preference for: ``{"kind", "label", "default"}``
    (``default`` is the channel used without a preference row), core kinds first.

    Contributions come from ``portal_notification_kinds`` (the core's own impl included); a
    malformed one is skipped and logged, never a 500 on the preferences page. Built once per set
    of active plugins (``PluginRegistry.derived``, like the role map): labels stay lazy strings.
    """
    from ..plugins import collect, registry

    def build() -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for item in collect("portal_notification_kinds"):
            kind, label = item.get("kind"), item.get("label")
            if not isinstance(kind, str) or not KIND_RE.fullmatch(kind) or not str(label or "").strip():
                log.error("portal_notification_kinds: skipped malformed kind %r", item)
                continue
            default = item.get("email_default", False)
            channel = default if default in CHANNELS else ("email" if default is True else "inbox")
            seen.setdefault(kind, {"kind": kind, "label": label, "default": channel})
        return list(seen.values())

    return registry().derived("notify_kinds", build)


def kind_info(kind: str) -> dict[str, Any] | None:
    return next((k for k in kinds() if k["kind"] == kind), None)


# -- recipients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleInScope:
    """Everyone holding ``role`` globally, or locally on the org unit / partner group or (for an
    org unit) any of its ancestors — a local role on a region covers its branches."""

    role: str
    org_unit_id: int | None = None
    partner_group_id: int | None = None

    def user_ids(self) -> Select:
        """The holders' user ids (active or not), as one SQL select."""
        from ..security.roles import role_names

        if self.role not in role_names():
            raise NotifyError(f"Unknown role {self.role!r}.")
        parts = [select(UserRole.user_id.label("uid")).where(UserRole.role == self.role)]
        if self.org_unit_id is not None:
            path = db.session.execute(select(OrgUnit.path).where(OrgUnit.id == self.org_unit_id)).scalar_one_or_none()
            if path is None:
                raise NotifyError(f"No org unit with id {self.org_unit_id}.")
            ancestors = [int(p) for p in path.strip("/").split("/") if p]
            parts.append(select(LocalRole.user_id).where(LocalRole.role == self.role, LocalRole.org_unit_id.in_(ancestors)))
        if self.partner_group_id is not None:
            if db.session.get(PartnerGroup, self.partner_group_id) is None:
                raise NotifyError(f"No partner group with id {self.partner_group_id}.")
            parts.append(select(LocalRole.user_id).where(LocalRole.role == self.role,
                                                        LocalRole.partner_group_id == self.partner_group_id))
        return union(*parts) if len(parts) > 1 else parts[0]


def role_in_scope(role: str, org_unit_id: int | None = None, partner_group_id: int | None = None) -> RoleInScope:
    """Recipients by role: global holders of ``role`` plus those granted it on the org unit (or an
    ancestor of it) or on the partner group. Without a scope: the global holders only."""
    for name, value in (("org_unit_id", org_unit_id), ("partner_group_id", partner_group_id)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise NotifyError(f"{name} must be an id (int), not {value!r}.")
    return RoleInScope(role, org_unit_id, partner_group_id)


def _flatten(recipients: Any) -> Iterator[Any]:
    if isinstance(recipients, RoleInScope | User | int) or recipients is None:
        yield recipients
        return
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Iterable):
        raise NotifyError(f"Recipients must be users, user ids or role_in_scope(...), not {recipients!r}.")
    for item in recipients:
        yield from _flatten(item) if isinstance(item, list | tuple | set | frozenset) else (item,)


def _split(recipients: Any) -> tuple[list[int], list[RoleInScope]]:
    ids: set[int] = set()
    roles: list[RoleInScope] = []
    for item in _flatten(recipients):
        if item is None:
            continue
        if isinstance(item, RoleInScope):
            roles.append(item)
        elif isinstance(item, User):
            if item.id is None:
                raise NotifyError("A recipient user has no id yet: flush the session before notifying them.")
            ids.add(item.id)
        elif isinstance(item, int) and not isinstance(item, bool):
            ids.add(item)
        else:
            raise NotifyError(f"Recipients must be users, user ids or role_in_scope(...), not {item!r}.")
    return sorted(ids), roles


def resolve_recipients(recipients: Any) -> list[int]:
    """The ids of the active users ``recipients`` names, each once, sorted: the roles in one query,
    listed ids in one query per 5,000 (a long id list never exceeds the driver's parameter limit)."""
    ids, roles = _split(recipients)
    found: set[int] = set()
    active = User.active.is_(True)
    if roles:
        found.update(db.session.execute(select(User.id).where(
            active, or_(*(User.id.in_(r.user_ids()) for r in roles)))).scalars())
    for chunk in chunked(ids, CHUNK):
        found.update(db.session.execute(select(User.id).where(active, User.id.in_(chunk))).scalars())
    return sorted(found)


# -- notify --------------------------------------------------------------------------------------


def _clean(value: Any, limit: int) -> str:
    text = str(value or "").replace("\x00", "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title_of(obj: Any) -> str:
    """A short label of ``obj`` kept with the notification (the object may change or go later).
    A customer is named by code, never by name: the title also lives on after an erasure."""
    from ..models import Customer

    if isinstance(obj, Customer):
        return obj.code
    for attr in ("title", "name", "code"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value.strip():
            return value
    return f"{getattr(obj, '__tablename__', type(obj).__name__)} #{getattr(obj, 'id', '?')}"


# Where an object without an explicit url leads: its page (the page checks the reader's scope).
OBJECT_PAGES = {
    "customer": ("customers.detail", "customer_id"),
    "org_unit": ("org.unit", "unit_id"),
    "partner_group": ("org.group", "group_id"),
    "partner": ("org.partner", "partner_id"),
}


def build_path(endpoint: str, **values: Any) -> str:
    """A URL path for ``endpoint`` that works in jobs too (no request context needed)."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


def absolute_url(path: str) -> str:
    """``path`` under ``PORTAL_BASE_URL``: links in e-mails."""
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def _check_url(url: str | None) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//") or "\\" in url \
            or len(url) > MAX_URL or any(ch in url for ch in "\x00\r\n\t "):
        raise NotifyError(f"url must be a path inside the portal (starting with one '/', at most {MAX_URL} "
                          f"characters, no spaces), not {url!r}.")
    return url


def notify(recipients: Any, kind: str, obj: Any = None, text: str = "", *, url: str | None = None,
           dedupe_key: str | None = None, title: str | None = None) -> int:
    """Notify ``recipients`` (users, user ids, :func:`role_in_scope`, or a list of them) of
    ``kind`` about ``obj``; returns how many notifications were created.

    With ``dedupe_key`` a recipient who already has a notification with that key gets nothing
    new (e.g. ``"bm.reminder:B012:2026-12-07:level1"``), safe under concurrent calls. Users whose
    preference for ``kind`` is "e-mail at once" get an e-mail queued in the same transaction
    (links only). ``title`` overrides the label kept for ``obj`` (its code, name or "type #id");
    it is shown in the inbox only. Inactive users are skipped. Raises :class:`NotifyError` for an unknown kind,
    a URL outside the portal, an over-long key or a recipient of the wrong type.
    """
    info = kind_info(kind) if isinstance(kind, str) else None
    if info is None:
        raise NotifyError(f"Unknown notification kind {kind!r}: declare it through portal_notification_kinds.")
    if dedupe_key is not None and (not isinstance(dedupe_key, str) or not dedupe_key.strip()
                                   or len(dedupe_key) > MAX_DEDUPE_KEY or "\x00" in dedupe_key):
        raise NotifyError(f"dedupe_key must be a non-empty text of at most {MAX_DEDUPE_KEY} characters.")
    url = _check_url(url)
    object_type = object_id = None
    given_title, title = title, ""
    if obj is not None:
        object_type = getattr(obj, "__tablename__", None) or type(obj).__name__.lower()
        object_id = getattr(obj, "id", None)
        if object_id is not None and (isinstance(object_id, bool) or not isinstance(object_id, int)):
            object_id = None
        title = given_title if isinstance(given_title, str) and given_title.strip() else _title_of(obj)
        if url is None and object_type in OBJECT_PAGES and object_id is not None:
            endpoint, arg = OBJECT_PAGES[object_type]
            url = build_path(endpoint, **{arg: object_id})
    user_ids = resolve_recipients(recipients)
    if not user_ids:
        return 0
    values = {
        "kind": kind, "object_type": _clean(object_type, 60) or None, "object_id": object_id,
        "title": _clean(title, MAX_TITLE), "text": _clean(text, MAX_TEXT), "url": url,
        "dedupe_key": dedupe_key, "created_at": utcnow(),
    }
    types = {"kind": String(80), "object_type": String(60), "object_id": BigInteger(), "title": String(MAX_TITLE),
             "text": String(MAX_TEXT), "url": String(MAX_URL), "dedupe_key": String(MAX_DEDUPE_KEY),
             "created_at": DateTime()}
    # PostgreSQL needs the parameters' types spelled out in INSERT … SELECT; SQLite must not get a
    # CAST (AS DATETIME would turn the timestamp into a number).
    pg = is_postgres()
    columns = [(cast(literal(v, types[k]), types[k]) if pg else literal(v, types[k])).label(k) for k, v in values.items()]
    created: list[tuple[int, int]] = []
    for chunk in chunked(user_ids, CHUNK):
        source = select(User.id, *columns).where(User.id.in_(chunk))
        ins = dialect_insert(Notification).from_select(["user_id", *values], source).on_conflict_do_nothing() \
            .returning(Notification.id, Notification.user_id)
        created += [(row.id, row.user_id) for row in db.session.execute(ins)]
    if created:
        _email_now(kind, info, created)
        _forget_badge()
    return len(created)


def preference_map(user_ids: list[int], kind: str) -> dict[int, str]:
    """The stored preference of each of ``user_ids`` for ``kind`` (absent: the kind's default)."""
    out: dict[int, str] = {}
    for chunk in chunked(user_ids, CHUNK):
        out.update(db.session.execute(select(NotificationPreference.user_id, NotificationPreference.channel).where(
            NotificationPreference.kind == kind, NotificationPreference.user_id.in_(chunk))).all())
    return out


def _email_now(kind: str, info: dict[str, Any], created: list[tuple[int, int]]) -> None:
    """Queue one e-mail per new notification whose recipient wants this kind at once."""
    stored = preference_map([uid for _, uid in created], kind)
    wanted = [(nid, uid) for nid, uid in created if stored.get(uid, info["default"]) == "email"]
    if not wanted:
        return
    users = {u.id: u for u in db.session.execute(select(User).where(User.id.in_([uid for _, uid in wanted]))).scalars()}
    for nid, uid in wanted:
        user = users[uid]
        path = build_path("notify.item", notification_id=nid)
        with force_locale(_locale_of(user)):
            label = str(info["label"])
            subject = _("Partner Portal: %(kind)s", kind=label)
            body = render_text("notify/email.txt", kind=label, link=absolute_url(path))
        _queue_email(user, subject, body, f"notify:{nid}")
    db.session.execute(update(Notification).where(Notification.id.in_([nid for nid, _ in wanted]))
                       .values(emailed_at=utcnow()))


def render_text(template: str, **context: Any) -> str:
    """A plain-text e-mail template, rendered without the page globals (jobs have no request)."""
    return current_app.jinja_env.get_template(template).render(**context)


def _locale_of(user: User) -> str:
    return user.locale if user.locale in current_app.config["PORTAL_LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def _queue_email(user: User, subject: str, body: str, key: str) -> Any:
    """One service e-mail to a staff user through the messaging outbox (idempotent by ``key``)."""
    from .. import messaging

    return messaging.queue_message(channel="email", purpose="service", user_id=user.id, to=user.email,
                                   subject=subject, body=body, idempotency_key=key, source=SOURCE)


# -- inbox ---------------------------------------------------------------------------------------


def unread_count(user_id: int, cap: int | None = BADGE_CAP) -> int:
    """Unread notifications of ``user_id``, counted up to ``cap + 1`` (one range scan of
    ``ix_notification_unread``); ``cap=None`` counts them all."""
    inner = select(Notification.id).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if cap is not None:
        inner = inner.limit(cap + 1)
    return db.session.execute(select(func.count()).select_from(inner.subquery())).scalar_one()


def unread_badge() -> str:
    """The header badge's text for the signed-in user ("" when none, "99+" past the cap),
    computed once per request."""
    from flask_login import current_user

    if not has_request_context() or not getattr(current_user, "is_authenticated", False):
        return ""
    if "notify_badge" not in g:
        n = unread_count(current_user.id)
        g.notify_badge = "" if n == 0 else (f"{BADGE_CAP}+" if n > BADGE_CAP else str(n))
    return g.notify_badge


def inbox_query(user_id: int, unread_only: bool = False) -> Select:
    """The user's notifications, newest first (the page and the API list through this)."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.id.desc())


def latest_unread(user_id: int, limit: int = 5) -> list[Notification]:
    return list(db.session.execute(inbox_query(user_id, unread_only=True).limit(limit)).scalars())


def get_own(user_id: int, notification_id: int) -> Notification | None:
    """The notification if it is ``user_id``'s; another user's looks missing (the views: 404)."""
    return db.session.execute(select(Notification).where(Notification.id == notification_id,
                                                         Notification.user_id == user_id)).scalar_one_or_none()


def mark_read(user_id: int, notification_ids: Iterable[int]) -> int:
    """Mark the user's own notifications read (others' ids are ignored); returns how many changed."""
    ids = sorted({int(i) for i in notification_ids})
    if not ids:
        return 0
    result = db.session.execute(update(Notification).where(
        Notification.user_id == user_id, Notification.id.in_(ids), Notification.read_at.is_(None)).values(read_at=utcnow()))
    _forget_badge()
    return result.rowcount or 0


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    result = db.session.execute(update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)).values(read_at=utcnow()))
    _forget_badge()
    return result.rowcount or 0


def _forget_badge() -> None:
    if has_request_context():
        g.pop("notify_badge", None)


def kind_label(kind: str) -> str:
    info = kind_info(kind)
    return str(info["label"]) if info else kind


# -- preferences ---------------------------------------------------------------------------------


def preferences(user_id: int) -> list[dict[str, Any]]:
    """Every kind with the user's channel for it: ``{"kind", "label", "default", "channel"}``."""
    stored = dict(db.session.execute(select(NotificationPreference.kind, NotificationPreference.channel)
                                     .where(NotificationPreference.user_id == user_id)).all())
    return [{**k, "channel": stored.get(k["kind"], k["default"])} for k in kinds()]


def set_preferences(user_id: int, choices: dict[str, str]) -> int:
    """Store the user's channel per kind (``inbox`` | ``email`` | ``digest``); all or nothing —
    an unknown kind or channel raises :class:`NotifyError` before anything is written. A choice
    equal to the kind's default removes the row, so a later change of default reaches the user.
    Returns how many kinds changed."""
    known = {k["kind"]: k for k in kinds()}
    bad_kinds = sorted(k for k in choices if k not in known)
    bad_channels = sorted(k for k, c in choices.items() if c not in CHANNELS)
    if bad_kinds:
        raise NotifyError(f"Unknown notification kinds: {', '.join(map(repr, bad_kinds))}.")
    if bad_channels:
        raise NotifyError(f"The channel must be one of {', '.join(CHANNELS)} (wrong for {', '.join(bad_channels)}).")
    current = {p["kind"]: p["channel"] for p in preferences(user_id)}
    changed = 0
    for kind, channel in choices.items():
        if current.get(kind) == channel:
            continue
        changed += 1
        db.session.execute(NotificationPreference.__table__.delete().where(
            NotificationPreference.user_id == user_id, NotificationPreference.kind == kind))
        if channel != known[kind]["default"]:
            db.session.add(NotificationPreference(user_id=user_id, kind=kind, channel=channel))
    db.session.flush()
    return changed


# -- daily digest --------------------------------------------------------------------------------


def _digest_kinds_condition(default_digest: list[str]) -> Any:
    """Rows whose recipient takes their kind in the digest (a stored choice, or the default)."""
    pref = NotificationPreference
    stored = select(pref.channel).where(pref.user_id == Notification.user_id, pref.kind == Notification.kind) \
        .correlate(Notification).scalar_subquery()
    conds = [stored == "digest"]
    if default_digest:
        conds.append(and_(stored.is_(None), Notification.kind.in_(default_digest)))
    return or_(*conds)


def _digest_users(now: datetime, default_digest: list[str]) -> Any:
    """Users with something for the digest. From their stored digest choices (few rows) into
    ``ix_notification_unread`` per user; only kinds whose *default* is the digest need a pass
    over the undigested rows of those kinds."""
    pref = NotificationPreference
    pending = and_(Notification.read_at.is_(None), Notification.digest_at.is_(None), Notification.emailed_at.is_(None),
                   Notification.created_at <= now)
    by_choice = select(Notification.user_id).join(pref, and_(pref.user_id == Notification.user_id,
                                                             pref.kind == Notification.kind)) \
        .where(pref.channel == "digest", pending)
    if not default_digest:
        return by_choice.distinct()
    by_default = select(Notification.user_id).outerjoin(pref, and_(pref.user_id == Notification.user_id,
                                                                   pref.kind == Notification.kind)) \
        .where(pref.user_id.is_(None), Notification.kind.in_(default_digest), pending)
    return union(by_choice, by_default)


def digest_day(now: datetime | None = None) -> str:
    """The digest's day in Korea (``YYYY-MM-DD``) for naive-UTC ``now``: one digest per user per day."""
    now = now or utcnow()
    return kst_date(now).isoformat()


def _day_start_utc(day: str) -> datetime:
    return kst_to_utc(date.fromisoformat(day))


def send_daily_digest(now: datetime | None = None) -> dict[str, int]:
    """One e-mail per user listing their unread notifications of digest kinds not yet e-mailed
    or digested (links only), at most one per user and Korean day: the rows are claimed (``digest_at``) in
    the same transaction as the queued message, whose idempotency key is
    ``notify.digest:<user>:<day>``, and a user already sent a digest that day is skipped.
    Commits per user. Returns ``{"users", "notifications"}`` sent."""
    now = now or utcnow()
    day = digest_day(now)
    since = _day_start_utc(day)
    known = kinds()  # once per run: the labels are read in each user's language below
    default_digest = [k["kind"] for k in known if k["default"] == "digest"]
    user_ids = sorted(db.session.execute(_digest_users(now, default_digest)).scalars())
    db.session.commit()
    sent_users = sent_rows = 0
    for uid in user_ids:
        try:
            n = _digest_one(uid, day, since, now, known, default_digest)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("notify digest: user %s failed; the others go on", uid)
            continue
        if n:
            sent_users += 1
            sent_rows += n
    return {"users": sent_users, "notifications": sent_rows}


def _digest_one(user_id: int, day: str, since: datetime, now: datetime, known: list[dict[str, Any]],
                default_digest: list[str]) -> int:
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return 0
    already = db.session.execute(select(Notification.id).where(
        Notification.user_id == user_id, Notification.digest_at >= since).limit(1)).first()
    if already:
        return 0
    rows = list(db.session.execute(select(Notification.id, Notification.kind).where(
        Notification.user_id == user_id, Notification.read_at.is_(None), Notification.digest_at.is_(None),
        Notification.emailed_at.is_(None), Notification.created_at <= now, _digest_kinds_condition(default_digest)).order_by(Notification.id)).all())
    if not rows:
        return 0
    ids = [r.id for r in rows]
    claimed = db.session.execute(update(Notification).where(Notification.id.in_(ids), Notification.digest_at.is_(None))
                                 .values(digest_at=now)).rowcount
    if claimed != len(ids):  # another run took some: leave the whole lot to it
        db.session.rollback()
        return 0
    with force_locale(_locale_of(user)):
        labels = {k["kind"]: str(k["label"]) for k in known}
        items = [{"kind": labels.get(r.kind, r.kind), "link": absolute_url(build_path("notify.item", notification_id=r.id))}
                 for r in rows]
        subject = _("Partner Portal: %(n)s new notifications", n=len(rows))
        body = render_text("notify/digest.txt", items=items, day=day,
                               inbox=absolute_url(build_path("notify.inbox", show="unread")))
    _queue_email(user, subject, body, f"notify.digest:{user_id}:{day}")
    return len(rows)


# -- housekeeping --------------------------------------------------------------------------------

KEEP_READ_DAYS = 365
PRUNE_BATCH = 10_000


def prune_read(keep_days: int = KEEP_READ_DAYS, now: datetime | None = None) -> int:
    """Delete notifications read more than ``keep_days`` ago, in batches (each committed), so the
    table does not grow for ever; unread ones stay. Returns how many were deleted."""
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 1:
        raise NotifyError("keep_days must be a whole number of days, at least 1.")
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    total = 0
    while True:
        ids = list(db.session.execute(select(Notification.id).where(Notification.read_at < cutoff)
                                      .order_by(Notification.id).limit(PRUNE_BATCH)).scalars())
        if not ids:
            db.session.commit()
            return total
        total += db.session.execute(Notification.__table__.delete().where(Notification.id.in_(ids))).rowcount or 0
        db.session.commit()


# -- personal data -------------------------------------------------------------------------------


def erase_customer(customer_id: int) -> int:
    """Blank the in-app text of notifications about an erased customer (titles are codes)."""
    return db.session.execute(update(Notification).where(
        Notification.object_type == "customer", Notification.object_id == customer_id).values(text="")).rowcount or 0
