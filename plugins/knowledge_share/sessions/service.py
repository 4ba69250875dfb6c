"""Knowledge-sharing sessions: who sees and manages them, validation, agenda, invitees,
attendance, minutes and action items. Pages and the API are thin layers over these functions.

Scope (one SQL rule, :func:`session_filter`, used by every list, count and 404):

- organisers: ``ks.sessions`` globally (HQ) sees every session; a local grant on a unit sees the
  sessions organised in that unit's subtree, and manages them;
- invitees (``ks_invitee``), the host and the presenters see the session;
- everyone with ``ks.view`` whose unit (or an ancestor of it) is one of the invited regions or
  branches of ``invite_rule`` sees it too (they are invited as a unit, even if their role was not).

Anything outside that answers 404 like a missing id. Times are entered in Asia/Seoul and stored
as naive UTC. Every writer validates everything first and raises :class:`StoryError` (field paths,
status) with nothing written; callers commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, delete, exists, false, func, or_, select, text, true, update
from sqlalchemy.sql.elements import ColumnElement

from portal.toolkit import (
    BRANCH_STAFF,
    DISTRIBUTOR,
    GROUP_LEADER,
    HQ_STAFF,
    REVIEWER,
    SITE_ADMIN,
    OrgUnit,
    User,
    db,
    dialect_insert,
    has_global_permission,
    has_permission,
    is_postgres,
    notify,
    utcnow,
)

from ..errors import StoryError
from ..models import PUBLISHED, KsAgendaItem, KsInvitee, KsSession, KsStory
from ..permissions import SESSIONS, VIEW
from ..stories.visibility import visible_filter

SEOUL = ZoneInfo("Asia/Seoul")
#: Fields a session accepts (anything else is refused: no mass assignment).
FIELDS = ("title", "starts_at", "ends_at", "place", "online_url", "host", "description", "org_unit", "minutes")
INVITE_ROLES = (BRANCH_STAFF, HQ_STAFF, GROUP_LEADER, DISTRIBUTOR, REVIEWER, SITE_ADMIN)
ACTION_STATUSES = ("open", "done", "cancelled")
MAX_AGENDA = 30
MAX_RULE_UNITS = 500
MAX_TEXT = 20_000
#: Bounds of a due date or a session time (documented in docs/api.md).
MIN_YEAR, MAX_YEAR = 2000, 2100
TIME_HINT = _l("Expected a date and time such as 2027-03-04T19:00 (Asia/Seoul).")


# -- time -------------------------------------------------------------------------------------


def to_utc(value: datetime) -> datetime:
    """A Seoul (naive) or aware datetime as naive UTC, the stored form."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SEOUL)
    return value.astimezone(UTC).replace(tzinfo=None)


def to_seoul(value: datetime | None) -> datetime | None:
    """A stored naive-UTC datetime as an aware Asia/Seoul datetime (pages, .ics, JSON)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(SEOUL)


def seoul_today(now: datetime | None = None) -> date:
    """The Korean calendar day of ``now`` (naive UTC; default: now)."""
    return to_seoul(now or utcnow()).date()


def parse_time(raw: Any) -> datetime | None:
    """An ISO date-time (Seoul when naive) as naive UTC, or None for anything else."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 40:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            return None
        return to_utc(value)
    except (ValueError, OverflowError):
        return None


def parse_date(raw: Any) -> date | None:
    if not isinstance(raw, str) or len(raw.strip()) != 10:
        return None
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        return None
    return value if MIN_YEAR <= value.year <= MAX_YEAR else None


def _id(value: Any) -> int | None:
    """A JSON or form id (positive, fits the column); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 12:
        value = int(value.strip())
    if isinstance(value, int) and 0 < value < 2**31:
        return value
    return None


def _https(raw: str) -> bool:
    try:
        parts = urlsplit(raw)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and not any(c.isspace() for c in raw)


# -- scope ------------------------------------------------------------------------------------


def _grant_units(user: Any, permission: str) -> list[OrgUnit]:
    """The org units on which ``user`` holds a local role granting ``permission`` (one of ours)."""
    roles = _roles_granting(permission)
    return [lr.org_unit for lr in getattr(user, "local_roles", []) or []
            if lr.role in roles and lr.org_unit is not None]


def _roles_granting(permission: str) -> set[str]:
    from ..permissions import permissions

    return {r for p in permissions() if p["name"] == permission for r in p["roles"]}


def _subtree(units: list[OrgUnit]) -> ColumnElement[bool]:
    if not units:
        return false()
    return or_(*[and_(OrgUnit.path >= u.path, OrgUnit.path < u.path[:-1] + "0") for u in units])


def organiser_filter(user: Any) -> ColumnElement[bool]:
    """SQL: the sessions ``user`` manages (``ks.sessions`` globally, or in a granted subtree)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return false()
    if has_global_permission(user, SESSIONS):
        return true()
    units = _grant_units(user, SESSIONS)
    if not units:
        return false()
    return KsSession.org_unit_id.in_(select(OrgUnit.id).where(_subtree(units)))


def _own_unit_ids(user: Any) -> list[int]:
    """The user's units through local roles and their ancestors (a branch is "in" its region)."""
    ids: set[int] = set()
    for lr in getattr(user, "local_roles", []) or []:
        if lr.org_unit is not None:
            ids.update(lr.org_unit.ancestor_ids())
    return sorted(ids)


_SQLITE_RULE = (
    "EXISTS (SELECT 1 FROM json_each(ks_session.invite_rule, '$.regions') AS j WHERE j.value IN :ks_rule_units)"
    " OR EXISTS (SELECT 1 FROM json_each(ks_session.invite_rule, '$.branches') AS j WHERE j.value IN :ks_rule_units)")
_PG_RULE = (
    "EXISTS (SELECT 1 FROM json_array_elements_text(COALESCE(ks_session.invite_rule->'regions', '[]'::json)) AS j(value)"
    " WHERE j.value IN :ks_rule_units)"
    " OR EXISTS (SELECT 1 FROM json_array_elements_text(COALESCE(ks_session.invite_rule->'branches', '[]'::json))"
    " AS j(value) WHERE j.value IN :ks_rule_units)")


def _rule_mentions(unit_ids: list[int]) -> ColumnElement[bool]:
    """SQL: the session's ``invite_rule`` names one of ``unit_ids`` as a region or a branch (JSON
    arrays read in SQL: ``json_each`` on SQLite, ``json_array_elements_text`` on PostgreSQL)."""
    if not unit_ids:
        return false()
    if is_postgres():
        clause = text(_PG_RULE)
        values: list[Any] = [str(int(i)) for i in unit_ids]
    else:
        clause = text(_SQLITE_RULE)
        values = [int(i) for i in unit_ids]
    clause = clause.bindparams(bindparam("ks_rule_units", values, expanding=True))
    return and_(KsSession.invite_rule.is_not(None), clause.self_group())


def session_filter(user: Any) -> ColumnElement[bool]:
    """SQL: the sessions ``user`` may see (see the module docstring)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return false()
    if has_global_permission(user, SESSIONS):
        return true()
    conds: list[ColumnElement[bool]] = [
        organiser_filter(user),
        KsSession.host_id == user.id,
        exists().where(KsInvitee.session_id == KsSession.id, KsInvitee.user_id == user.id),
        exists().where(KsAgendaItem.session_id == KsSession.id, KsAgendaItem.presenter_id == user.id),
    ]
    if has_permission(user, VIEW):
        conds.append(_rule_mentions(_own_unit_ids(user)))
    return or_(*conds)


def get_session_or_404(session_id: Any, user: Any) -> KsSession:
    """The session if ``user`` may see it; ``StoryError`` 404 otherwise (missing or not theirs)."""
    sid = _id(session_id)
    found = None
    if sid is not None:
        found = db.session.scalar(select(KsSession).where(KsSession.id == sid, session_filter(user)))
    if found is None:
        raise StoryError({"": _l("No knowledge-sharing session with this id.")}, 404)
    return found


def may_manage(user: Any, session: KsSession) -> bool:
    """Organiser of this session's unit (or HQ)."""
    return bool(db.session.scalar(select(KsSession.id).where(KsSession.id == session.id, organiser_filter(user))))


def manageable_or_403(session_id: Any, user: Any) -> KsSession:
    """404 outside the caller's visibility, 403 when visible but not theirs to manage."""
    s = get_session_or_404(session_id, user)
    if not may_manage(user, s):
        raise StoryError({"": _l("Only the session's organisers may change it.")}, 403)
    return s


def organiser_units(user: Any) -> list[OrgUnit]:
    """Units a session may be organised in by ``user`` (HQ: every active HQ/region/branch unit)."""
    stmt = select(OrgUnit).where(OrgUnit.active.is_(True)).order_by(OrgUnit.path)
    if not has_global_permission(user, SESSIONS):
        units = _grant_units(user, SESSIONS)
        if not units:
            return []
        stmt = stmt.where(_subtree(units))
    return list(db.session.scalars(stmt.limit(2000)))


# -- create / edit ----------------------------------------------------------------------------


def clean(data: Mapping[str, Any], actor: Any, current: KsSession | None = None) -> dict[str, Any]:
    """Validated values of ``data`` (all fields for a new session; the given ones for an edit)."""
    errors: dict[str, str] = {}
    for key in sorted(set(data) - set(FIELDS), key=str):
        errors[str(key)[:40]] = str(_l("Unknown field."))
    out: dict[str, Any] = {}
    new = current is None

    def given(key: str) -> bool:
        return new or key in data

    if given("title"):
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            errors["title"] = str(_l("Enter a title."))
        elif len(title.strip()) > 200:
            errors["title"] = str(_l("At most 200 characters."))
        else:
            out["title"] = title.strip()
    for key in ("starts_at", "ends_at"):
        if given(key):
            parsed = parse_time(data.get(key))
            if parsed is None:
                errors[key] = str(TIME_HINT)
            else:
                out[key] = parsed
    starts = out.get("starts_at", current.starts_at if current else None)
    ends = out.get("ends_at", current.ends_at if current else None)
    if "starts_at" in out and (new or out["starts_at"] != current.starts_at) and out["starts_at"] <= utcnow():
        errors["starts_at"] = str(_l("The session cannot start in the past."))
    if starts and ends and ("starts_at" in out or "ends_at" in out) and ends <= starts:
        errors["ends_at"] = str(_l("The end must be after the start."))
    for key, limit in (("place", 200), ("online_url", 500)):
        if given(key):
            value = data.get(key)
            if value in (None, ""):
                out[key] = None
            elif not isinstance(value, str) or len(value.strip()) > limit:
                errors[key] = str(_l("At most %(n)s characters.", n=limit))
            elif key == "online_url" and not _https(value.strip()):
                errors[key] = str(_l("An online link must start with https://."))
            elif "\r" in value or "\n" in value:
                errors[key] = str(_l("Write it on one line."))
            else:
                out[key] = value.strip()
    place = out.get("place", current.place if current else None)
    link = out.get("online_url", current.online_url if current else None)
    if not place and not link and "place" not in errors and "online_url" not in errors:
        errors["place"] = str(_l("Give a place or an online link."))
    for key in ("description", "minutes"):
        if key in data:
            value = data.get(key)
            if value is None:
                value = ""
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                errors[key] = str(_l("At most %(n)s characters.", n=MAX_TEXT))
            else:
                out[key] = value
    if "host" in data:
        raw = data.get("host")
        if raw in (None, ""):
            out["host_id"] = None
        else:
            hid = _id(raw)
            host = db.session.get(User, hid) if hid else None
            if host is None or not host.active:
                errors["host"] = str(_l("No active user with this id."))
            else:
                out["host_id"] = host.id
    elif new:
        out["host_id"] = actor.id
    if "org_unit" in data or new:
        raw = data.get("org_unit")
        allowed = {u.id: u for u in organiser_units(actor)}
        unit = None
        if raw in (None, "") and new:
            unit = next(iter(allowed.values()), None)  # the user's top unit (HQ for HQ staff)
        elif isinstance(raw, str) and not raw.strip().isdigit():
            unit = next((u for u in allowed.values() if u.code == raw.strip()), None)
        else:
            uid = _id(raw)
            unit = allowed.get(uid) if uid else None
        if unit is None:
            errors["org_unit"] = str(_l("Choose a unit you organise sessions for."))
        else:
            out["org_unit_id"] = unit.id
    if errors:
        raise StoryError(errors)
    return out


def create_session(data: Mapping[str, Any], actor: Any) -> KsSession:
    """A new session organised by ``actor`` (``ks.sessions``) in one of their units."""
    if not has_permission(actor, SESSIONS):
        raise StoryError({"": _l("You may not organise knowledge-sharing sessions.")}, 403)
    values = clean(data, actor)
    host = urlsplit(current_app.config.get("PORTAL_BASE_URL") or "").hostname or "portal"
    s = KsSession(**values, uid=f"ks-session-{uuid.uuid4().hex}@{host}", sequence=0, created_by_id=actor.id,
                  invite_rule=None)
    db.session.add(s)
    db.session.flush()
    return s


#: Changes that move the calendar event: invitees get an updated invitation (SEQUENCE + 1).
CALENDAR_FIELDS = ("title", "starts_at", "ends_at", "place", "online_url", "description")


def update_session(s: KsSession, data: Mapping[str, Any], actor: Any) -> KsSession:
    """Edit the given fields. Time/place/title changes bump the .ics SEQUENCE and re-invite."""
    if s.cancelled:
        raise StoryError({"": _l("The session is cancelled.")}, 409)
    values = clean(data, actor, current=s)
    moved = any(k in values and getattr(s, k) != values[k] for k in CALENDAR_FIELDS)
    for key, value in values.items():
        setattr(s, key, value)
    if moved:
        s.sequence += 1
        db.session.flush()
        send_invitations(s, None, updated=True)
    db.session.flush()
    return s


def cancel_session(s: KsSession, actor: Any) -> int:
    """Cancel (kept, shown as cancelled); invitees get the cancellation. Returns how many."""
    if s.cancelled:
        raise StoryError({"": _l("The session is already cancelled.")}, 409)
    s.cancelled = True
    s.sequence += 1
    db.session.flush()
    return send_invitations(s, None, updated=True)


# -- agenda -----------------------------------------------------------------------------------


def set_agenda(s: KsSession, items: Any, actor: Any) -> list[KsAgendaItem]:
    """Replace the agenda with ``items`` (``[{"story": id, "presenter": user id | null, "note"}]``, in
    order: reordering is sending the list again). Only published stories the actor can see; a
    story appears once. ``agenda[i].story`` names the refused entry."""
    if s.cancelled:
        raise StoryError({"": _l("The session is cancelled.")}, 409)
    if not isinstance(items, list):
        raise StoryError({"agenda": _l("Expected a list of agenda items.")})
    lock(s)
    if len(items) > MAX_AGENDA:
        raise StoryError({"agenda": _l("At most %(n)s agenda items.", n=MAX_AGENDA)})
    errors: dict[str, str] = {}
    wanted: list[tuple[int, int | None, str]] = []
    story_ids, presenter_ids = set(), set()
    for i, item in enumerate(items):
        path = f"agenda[{i}]"
        if not isinstance(item, dict):
            errors[path] = str(_l("Expected an agenda item object."))
            continue
        for key in sorted(set(item) - {"story", "presenter", "note"}, key=str):
            errors[f"{path}.{str(key)[:40]}"] = str(_l("Unknown field."))
        sid = _id(item.get("story"))
        if sid is None:
            errors[f"{path}.story"] = str(_l("Expected a story id."))
        elif sid in story_ids:
            errors[f"{path}.story"] = str(_l("This story is already on the agenda."))
        else:
            story_ids.add(sid)
        pid = None
        if item.get("presenter") not in (None, ""):
            pid = _id(item.get("presenter"))
            if pid is None:
                errors[f"{path}.presenter"] = str(_l("Expected a user id."))
            else:
                presenter_ids.add(pid)
        note = item.get("note") or ""
        if not isinstance(note, str) or len(note) > 2000:
            errors[f"{path}.note"] = str(_l("At most %(n)s characters.", n=2000))
            note = ""
        if sid is not None:
            wanted.append((sid, pid, note))
    states = dict(db.session.execute(select(KsStory.id, KsStory.state).where(
        KsStory.id.in_(story_ids), KsStory.base_id.is_(None), visible_filter(actor))).all()) if story_ids else {}
    active = set(db.session.scalars(select(User.id).where(User.id.in_(presenter_ids), User.active.is_(True)))) \
        if presenter_ids else set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        sid = _id(item.get("story"))
        if sid is not None and f"agenda[{i}].story" not in errors:
            if sid not in states:
                errors[f"agenda[{i}].story"] = str(_l("No story with this id."))
            elif states[sid] != PUBLISHED:
                errors[f"agenda[{i}].story"] = str(_l("Only published stories can be on the agenda."))
        pid = _id(item.get("presenter")) if item.get("presenter") not in (None, "") else None
        if pid is not None and pid not in active:
            errors[f"agenda[{i}].presenter"] = str(_l("No active user with this id."))
    if errors:
        raise StoryError(errors)
    db.session.execute(delete(KsAgendaItem).where(KsAgendaItem.session_id == s.id))
    db.session.flush()
    rows = [KsAgendaItem(session_id=s.id, position=n, story_id=sid, presenter_id=pid, minutes_note=note)
            for n, (sid, pid, note) in enumerate(wanted, start=1)]
    db.session.add_all(rows)
    db.session.flush()
    db.session.expire(s, ["agenda"])
    return rows


def agenda_rows(s: KsSession, viewer: Any) -> list[dict[str, Any]]:
    """The agenda for ``viewer``: a story's title and link only when the viewer may see it."""
    rows = db.session.execute(
        select(KsAgendaItem.position, KsAgendaItem.story_id, KsAgendaItem.presenter_id, KsAgendaItem.minutes_note,
               User.name).outerjoin(User, User.id == KsAgendaItem.presenter_id)
        .where(KsAgendaItem.session_id == s.id).order_by(KsAgendaItem.position)).all()
    ids = [r.story_id for r in rows]
    seen = dict(db.session.execute(select(KsStory.id, KsStory.title).where(
        KsStory.id.in_(ids), visible_filter(viewer))).all()) if ids else {}
    return [{"position": r.position, "story": r.story_id, "title": seen.get(r.story_id),
             "visible": r.story_id in seen, "presenter": r.presenter_id, "presenter_name": r.name,
             "note": r.minutes_note} for r in rows]


# -- invitees ---------------------------------------------------------------------------------


def clean_rule(data: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{"regions": [...], "branches": [...], "roles": [...]}`` with units as ids or codes → ids."""
    errors: dict[str, str] = {}
    for key in sorted(set(data) - {"regions", "branches", "roles"}, key=str):
        errors[str(key)[:40]] = str(_l("Unknown field."))
    rule: dict[str, list[Any]] = {"regions": [], "branches": [], "roles": []}
    for key, kind in (("regions", "region"), ("branches", "branch")):
        raw = data.get(key) or []
        if not isinstance(raw, list) or len(raw) > MAX_RULE_UNITS:
            errors[key] = str(_l("Expected a list of unit codes or ids."))
            continue
        ids, codes = set(), set()
        for i, v in enumerate(raw):
            if isinstance(v, str) and v.strip() and not v.strip().isdigit() and len(v) <= 20:
                codes.add(v.strip())
            elif _id(v) is not None:
                ids.add(_id(v))
            else:
                errors[f"{key}[{i}]"] = str(_l("Expected a unit code or id."))
        if ids or codes:
            found = db.session.execute(select(OrgUnit.id, OrgUnit.code).where(
                OrgUnit.kind == kind, OrgUnit.active.is_(True),
                or_(OrgUnit.id.in_(ids), OrgUnit.code.in_(codes)))).all()
            missing = (ids - {r.id for r in found}) | (codes - {r.code for r in found})
            if missing:
                shown = ", ".join(sorted(map(str, missing))[:5])
                errors[key] = str(_l("Unknown region: %(units)s", units=shown) if kind == "region"
                                  else _l("Unknown branch: %(units)s", units=shown))
            rule[key] = sorted(r.id for r in found)
    roles = data.get("roles") or []
    if not isinstance(roles, list) or any(r not in INVITE_ROLES for r in roles if isinstance(r, str)) \
            or not all(isinstance(r, str) for r in roles):
        errors["roles"] = str(_l("Roles are among: %(roles)s", roles=", ".join(INVITE_ROLES)))
    else:
        rule["roles"] = sorted(set(roles))
    if not errors and not (rule["regions"] or rule["branches"] or rule["roles"]):
        errors["regions"] = str(_l("Choose at least one region, branch or role."))
    if errors:
        raise StoryError(errors)
    return rule


def matching_users(rule: Mapping[str, list[Any]]):
    """SQL select of the active user ids the rule names: users with a local role on an invited
    branch, on an invited region or a unit below it — holding one of ``roles`` when roles are
    given. A roles-only rule names every holder of those roles (global or local)."""
    lr = _local_role_table()
    units = list(rule.get("branches") or []) + list(rule.get("regions") or [])
    roles = list(rule.get("roles") or [])
    if units:
        regions = db.session.execute(select(OrgUnit.path).where(OrgUnit.id.in_(rule.get("regions") or []))).scalars()
        ranges = [and_(OrgUnit.path >= p, OrgUnit.path < p[:-1] + "0") for p in regions]
        unit_ids = select(OrgUnit.id).where(or_(OrgUnit.id.in_(rule.get("branches") or []), *ranges))
        cond = lr.c.org_unit_id.in_(unit_ids)
        if roles:
            cond = and_(cond, lr.c.role.in_(roles))
        sub = select(lr.c.user_id).where(cond)
    else:
        ur = _user_role_table()
        sub = select(lr.c.user_id).where(lr.c.role.in_(roles)).union(select(ur.c.user_id).where(ur.c.role.in_(roles)))
    return select(User.id).where(User.active.is_(True), User.id.in_(sub))


def _local_role_table():
    return db.metadata.tables["local_role"]


def _user_role_table():
    return db.metadata.tables["user_role"]


def invite(s: KsSession, data: Mapping[str, Any] | None, actor: Any) -> dict[str, int]:
    """Store the invitation rule (``data``; None: re-resolve the stored one) and resolve it:
    new matches are added and invited; unmarked invitees the new rule no longer names are
    removed; an invitee with attendance marked is never dropped."""
    if s.cancelled:
        raise StoryError({"": _l("The session is cancelled.")}, 409)
    if data is None:
        if not s.invite_rule:
            raise StoryError({"regions": _l("Choose at least one region, branch or role.")})
        rule = s.invite_rule
    else:
        rule = clean_rule(data)
    lock(s)
    s.invite_rule = dict(rule)
    db.session.flush()
    match = matching_users(rule)
    existing = set(db.session.scalars(select(KsInvitee.user_id).where(KsInvitee.session_id == s.id)))
    wanted = set(db.session.scalars(match))
    new_ids = sorted(wanted - existing)
    now = utcnow()
    if new_ids:  # a concurrent run may have added some: those are skipped, never a unique-key error
        db.session.execute(dialect_insert(KsInvitee).on_conflict_do_nothing(index_elements=["session_id", "user_id"]),
                           [{"session_id": s.id, "user_id": u, "invited_at": now} for u in new_ids])
    removed = db.session.execute(delete(KsInvitee).where(
        KsInvitee.session_id == s.id, KsInvitee.attended.is_(None), KsInvitee.user_id.not_in(match))).rowcount or 0
    db.session.flush()
    sent = send_invitations(s, new_ids) if new_ids else 0
    total = db.session.scalar(select(func.count()).where(KsInvitee.session_id == s.id)) or 0
    return {"added": len(new_ids), "removed": removed, "notified": sent, "total": total}


def lock(s: KsSession) -> None:
    """Serialise writers of one session's agenda and invitees (PostgreSQL row lock; SQLite
    serialises writers anyway): two organisers saving at once never collide on a unique key."""
    if is_postgres():
        db.session.execute(select(KsSession.id).where(KsSession.id == s.id).with_for_update())


def session_url(s: KsSession) -> str:
    return f"/stories/sessions/{s.id}"


def send_invitations(s: KsSession, user_ids: list[int] | None, *, updated: bool = False) -> int:
    """Notify invitees (``user_ids``; None: all) of the session, with its page and its .ics link;
    once per invitee and SEQUENCE (``dedupe_key``)."""
    if user_ids is None:
        user_ids = list(db.session.scalars(select(KsInvitee.user_id).where(KsInvitee.session_id == s.id)))
    if not user_ids:
        return 0
    when = to_seoul(s.starts_at)
    if s.cancelled:
        body = _l("Cancelled: %(title)s (%(when)s, Korea time).", title=s.title, when=when.strftime("%Y-%m-%d %H:%M"))
    elif updated:
        body = _l("Changed: %(title)s, %(when)s (Korea time). Add the updated invitation (.ics) to your calendar.",
                  title=s.title, when=when.strftime("%Y-%m-%d %H:%M"))
    else:
        body = _l("You are invited to %(title)s, %(when)s (Korea time). Add the invitation (.ics) to your calendar.",
                  title=s.title, when=when.strftime("%Y-%m-%d %H:%M"))
    return notify(sorted(set(user_ids)), "ks.session_invitation", s, str(body), url=session_url(s),
                  dedupe_key=f"ks.session_invitation:{s.id}:{s.sequence}")


def invitee_rows(s: KsSession) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(KsInvitee.user_id, KsInvitee.attended, KsInvitee.marked_at, User.name, User.email)
        .join(User, User.id == KsInvitee.user_id).where(KsInvitee.session_id == s.id).order_by(User.name, User.id)
        .limit(5000)).all()
    return [{"user": r.user_id, "name": r.name, "email": r.email, "attended": r.attended,
             "marked_at": r.marked_at} for r in rows]


def is_invitee(s: KsSession, user: Any) -> bool:
    return bool(db.session.scalar(select(KsInvitee.id).where(KsInvitee.session_id == s.id,
                                                             KsInvitee.user_id == getattr(user, "id", None))))


# -- attendance -------------------------------------------------------------------------------


def mark_attendance(s: KsSession, marks: Any, actor: Any, now: datetime | None = None) -> int:
    """``[{"user": id, "attended": true | false | null}]``: tri-state, only invitees, only once the
    session has started (409 before)."""
    if s.cancelled:
        raise StoryError({"": _l("The session is cancelled.")}, 409)
    if not isinstance(marks, list) or not marks or len(marks) > 5000:
        raise StoryError({"attendance": _l("Expected a list of {user, attended} marks.")})
    errors: dict[str, str] = {}
    wanted: dict[int, bool | None] = {}
    for i, m in enumerate(marks):
        if not isinstance(m, dict) or set(m) - {"user", "attended"} or "attended" not in m:
            errors[f"attendance[{i}]"] = str(_l("Expected {user, attended}."))
            continue
        uid = _id(m.get("user"))
        if uid is None:
            errors[f"attendance[{i}].user"] = str(_l("Expected a user id."))
        elif m["attended"] not in (True, False, None):
            errors[f"attendance[{i}].attended"] = str(_l("Expected true, false or null."))
        else:
            wanted[uid] = m["attended"]
    invited = set(db.session.scalars(select(KsInvitee.user_id).where(
        KsInvitee.session_id == s.id, KsInvitee.user_id.in_(wanted)))) if wanted else set()
    for i, m in enumerate(marks):
        uid = _id(m.get("user")) if isinstance(m, dict) else None
        if uid is not None and uid not in invited and f"attendance[{i}]" not in errors:
            errors[f"attendance[{i}].user"] = str(_l("Not invited to this session."))
    if errors:
        raise StoryError(errors)
    if s.starts_at > (now or utcnow()):
        raise StoryError({"attendance": _l("Attendance can be marked once the session has started.")}, 409)
    stamp = utcnow()
    for value in (True, False, None):
        ids = [u for u, v in wanted.items() if v is value]
        if ids:
            db.session.execute(update(KsInvitee).where(KsInvitee.session_id == s.id, KsInvitee.user_id.in_(ids))
                               .values(attended=value, marked_by_id=actor.id if value is not None else None,
                                       marked_at=stamp if value is not None else None))
    db.session.flush()
    return len(wanted)


def attendance_counts(session_ids: list[int]) -> dict[int, dict[str, int]]:
    """``{session id: {"invited", "attended", "absent"}}`` in one query."""
    out = {i: {"invited": 0, "attended": 0, "absent": 0} for i in session_ids}
    if not session_ids:
        return out
    rows = db.session.execute(select(KsInvitee.session_id, KsInvitee.attended, func.count())
                              .where(KsInvitee.session_id.in_(session_ids))
                              .group_by(KsInvitee.session_id, KsInvitee.attended)).all()
    for sid, attended, n in rows:
        out[sid]["invited"] += n
        if attended is True:
            out[sid]["attended"] += n
        elif attended is False:
            out[sid]["absent"] += n
    return out


# -- listing ----------------------------------------------------------------------------------


def list_query(user: Any, when: str = "upcoming", now: datetime | None = None):
    """Sessions ``user`` sees, ``upcoming`` (not ended; soonest first) or ``past`` (latest first)."""
    now = now or utcnow()
    stmt = select(KsSession).where(session_filter(user))
    if when == "past":
        return stmt.where(KsSession.ends_at < now).order_by(KsSession.starts_at.desc(), KsSession.id.desc())
    return stmt.where(KsSession.ends_at >= now).order_by(KsSession.starts_at, KsSession.id)


def session_json(s: KsSession, viewer: Any, *, full: bool = True) -> dict[str, Any]:
    iso = (lambda v: to_seoul(v).isoformat() if v is not None else None)  # noqa: E731
    out: dict[str, Any] = {
        "id": s.id, "title": s.title, "starts_at": iso(s.starts_at), "ends_at": iso(s.ends_at),
        "place": s.place, "online_url": s.online_url, "host": s.host_id, "org_unit": s.org_unit_id,
        "cancelled": s.cancelled, "sequence": s.sequence, "url": session_url(s), "ics": f"{session_url(s)}/session.ics",
    }
    if full:
        from .actions import action_rows

        manage = may_manage(viewer, s)
        hidden = {"marked_at"} if manage else {"marked_at", "email"}  # addresses only for the organisers
        out |= {"description": s.description, "minutes": s.minutes, "invite_rule": s.invite_rule,
                "agenda": agenda_rows(s, viewer),
                "invitees": [{k: v for k, v in r.items() if k not in hidden} | {"marked_at": iso(r["marked_at"])}
                             for r in invitee_rows(s)],
                "actions": action_rows(s),
                "may_manage": manage}
    return out
