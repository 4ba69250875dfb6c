"""Leader-voiced content: immutable revisions of a message step's text, the leader's approval of
exactly one revision, the word-level diff an edit shows, and the preview as cem_channels sends it.

HQ writes the text in the top leader's voice; the leader never edits, they approve or send back.
Every edit is a new revision (number + 1, SHA-256 of the texts and their variables); an edit of
approved content withdraws the approval (core ``content_changed`` → ``leader_review``), so what
goes out is always what the leader saw. The company stays the sender — the leader only signs
(:func:`message_set_data` appends the signature; the ad-law wrapper is cem's).

Shared interface (the launch and the workflow use it): :func:`latest_revision`,
:func:`approved_revision`, :func:`programme_revision`, :func:`message_set_data`,
:func:`on_approved` (called by ``service.fire`` after ``approve``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.toolkit import audit, content_changed, db, has_permission, plugin_hook, revision_hash, utcnow

from ..models import APPROVED, EDITABLE, MESSAGE_CHANNELS, PrmContentRevision, PrmProgramme, PrmStep
from ..permissions import MANAGE
from . import ProgrammeError

SIGNER_MAX = 120
SUBJECT_MAX = 200
BODY_MAX = 20_000
HTML_MAX = 100_000
NOTE_MAX = 500
#: Fields a channel's block may have: e-mail needs subject + body (html optional); the other
#: channels a body (push/KakaoTalk may carry a title as ``subject``).
CHANNEL_FIELDS = {"email": ("subject", "body", "html"), "push": ("subject", "body"), "kakao": ("subject", "body"),
                  "sms": ("body",), "dm": ("body",)}
#: Variables the text may use: the recipient (``{{ customer.name }}`` …, filled by cem at send
#: time) and ``{{ signer }}`` (the signatory's name, filled in here).
VARIABLES = ("customer", "signer")
CHANNEL_LABELS = {"email": _l("E-mail"), "dm": _l("Postal DM"), "sms": _l("SMS"), "kakao": _l("KakaoTalk"),
                  "push": _l("Push")}
FIELD_LABELS = {"signer": _l("Signed by"), "subject": _l("Subject"), "body": _l("Text"), "html": _l("HTML")}
_SIGNER_VAR = re.compile(r"\{\{-?\s*signer\s*-?\}\}")
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
_PARSER = SandboxedEnvironment()
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# -- the shared interface -------------------------------------------------------------------------


def latest_revision(step: PrmStep) -> PrmContentRevision | None:
    """The step's newest content revision (the one the leader is asked to approve), or None."""
    return db.session.scalar(select(PrmContentRevision).where(PrmContentRevision.step_id == step.id)
                             .order_by(PrmContentRevision.number.desc()).limit(1))


def approved_revision(step: PrmStep) -> PrmContentRevision | None:
    """The step's latest revision if the leader approved exactly it, else None (an edit after the
    approval adds a newer, unapproved revision)."""
    rev = latest_revision(step)
    return rev if rev is not None and rev.approved_at is not None else None


def programme_revision(programme: PrmProgramme) -> dict[str, Any]:
    """What the leader's approval binds to: the plan (group, category, windows, design, holdout,
    seed, budget) and, per message step, its latest revision's number and hash. Editing any of it
    withdraws the approval and sends the programme back to the leader."""
    p = programme
    plan = {"group": p.partner_group_id, "category": p.category_id, "metric": p.objective_metric,
            "baseline": [p.baseline_start, p.baseline_end], "run": [p.run_start, p.run_end],
            "measure": [p.measure_start, p.measure_end], "design": sorted(p.design or []),
            "holdout_share": p.holdout_share, "seed": p.seed, "budget": p.budget, "target_mde": p.target_mde}
    return {"programme": programme.id, "plan": plan,
            "steps": [{"position": s.position, "revision": (r.number, r.sha256) if (r := latest_revision(s)) else None}
                      for s in programme.steps if s.kind == "message"]}


# -- validation -------------------------------------------------------------------------------------


def _variables(source: str) -> set[str]:
    """``{"customer.name", "signer"}`` for ``{{ customer.name }} … {{ signer }}`` (names and the
    attributes read from them); raises TemplateSyntaxError."""
    tree = _PARSER.parse(source)
    found: set[str] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            found.add(f"{node.node.name}.{node.attr}")
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in assigned and not any(v.startswith(node.name + ".") for v in found):
            found.add(node.name)
    return found


def _field(errors: dict[str, str], path: str, raw: Any, *, required: bool, max_len: int) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            errors[path] = _("This field is required.")
        return None
    if not isinstance(raw, str):
        errors[path] = _("Must be text.")
        return None
    if len(raw) > max_len:
        errors[path] = _("At most %(n)s characters.", n=f"{max_len:,}")
        return None
    if _BAD_CHARS.search(raw):
        errors[path] = _("Contains control characters.")
        return None
    try:
        names = _variables(raw)
    except TemplateSyntaxError as exc:
        errors[path] = _("Template syntax error on line %(line)s: %(detail)s", line=exc.lineno or "-",
                         detail=exc.message or str(exc))
        return None
    unknown = sorted(n for n in names if n.split(".", 1)[0] not in VARIABLES)
    if unknown:
        errors[path] = _("Unknown variable %(name)s: use {{ customer.name }} or {{ signer }}.", name=unknown[0])
        return None
    return raw.replace("\r\n", "\n").strip()


def check_content(raw: Any, path: str, channels: Iterable[str] | None = None
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """``steps[i].content`` cleaned, and every error found keyed by field path
    (``steps[0].content.email.subject``). ``channels``: the step's channels — each needs its
    block, others are refused; without it any of the message channels (at least one)."""
    errors: dict[str, str] = {}
    if not isinstance(raw, Mapping):
        return {}, {path: _("Must be an object with the signer and the text per channel.")}
    wanted = list(dict.fromkeys(channels)) if channels is not None else [c for c in MESSAGE_CHANNELS if c in raw]
    clean: dict[str, Any] = {}
    for key in sorted((str(k) for k in raw), key=str):
        if key != "signer" and key not in wanted:
            errors[f"{path}.{key[:40]}"] = (_("Not a channel of this step.") if key in MESSAGE_CHANNELS
                                            else _("Unknown field."))
    signer = raw.get("signer")
    if isinstance(signer, str) and re.search(r"[{}<>]", signer):
        errors[f"{path}.signer"] = _("The signer's name may not contain { } < >.")
    else:
        signer = _field(errors, f"{path}.signer", signer, required=True, max_len=SIGNER_MAX)
        if signer is not None:
            clean["signer"] = " ".join(signer.split())
    if not wanted:
        errors.setdefault(path, _("Write the text for at least one channel."))
    for channel in wanted:
        block = raw.get(channel)
        cpath = f"{path}.{channel}"
        if channel not in CHANNEL_FIELDS:
            errors[cpath] = _("Unknown channel.")
            continue
        if not isinstance(block, Mapping):
            errors[cpath] = _("Write the text for this channel.")
            continue
        allowed = CHANNEL_FIELDS[channel]
        for key in sorted((str(k) for k in block), key=str):
            if key not in allowed:
                errors[f"{cpath}.{key[:40]}"] = _("Unknown field.")
        out: dict[str, str] = {}
        for name in allowed:
            value = _field(errors, f"{cpath}.{name}", block.get(name),
                           required=name == "body" or (channel == "email" and name == "subject"),
                           max_len={"subject": SUBJECT_MAX, "body": BODY_MAX, "html": HTML_MAX}[name])
            if value is not None and name == "subject" and ("\n" in value or "\r" in value):
                # sent as one header line: the leader approves it as it is sent, nothing smuggled in
                errors[f"{cpath}.{name}"] = _("The subject must be one line.")
            elif value is not None:
                out[name] = value
        clean[channel] = out
    return clean, errors


def clean_content(raw: Any, path: str, channels: Iterable[str] | None = None) -> dict[str, Any]:
    """:func:`check_content`, raising ``ProgrammeError`` (422) with every error at once."""
    clean, errors = check_content(raw, path, channels)
    if errors:
        raise ProgrammeError(errors, 422)
    return clean


def variables_of(content: Mapping[str, Any]) -> list[str]:
    """The sorted variables every text of ``content`` uses (part of the revision hash)."""
    found: set[str] = set()
    for channel, block in content.items():
        if channel != "signer" and isinstance(block, Mapping):
            for text in block.values():
                if isinstance(text, str):
                    found |= _variables(text)
    return sorted(found)


def content_hash(content: Mapping[str, Any], variables: list[str]) -> str:
    """SHA-256 of the canonical JSON of the template texts (with the signer) and the variable list."""
    return revision_hash({"content": dict(content), "variables": list(variables)})


# -- revisions ------------------------------------------------------------------------------------


def add_revision(programme: PrmProgramme, step: PrmStep, content: Any, actor: Any) -> PrmContentRevision:
    """A new immutable revision of ``step``'s text by ``actor`` (HQ with ``prm.manage``): number =
    last + 1; identical content to the latest → the latest (idempotent). Only while the programme
    is editable (409); an edit of approved content sends the programme back to the leader
    (``content_changed``). Raises ``ProgrammeError``; flushes, does not commit."""
    if not has_permission(actor, MANAGE, programme.group):
        raise ProgrammeError({"content": _("Only HQ staff edit the text; the leader approves or sends it back.")},
                             403)
    if step.programme_id != programme.id or step.kind != "message":
        raise ProgrammeError({"step": _("Not a message step of this programme.")}, 422)
    if programme.state not in EDITABLE:
        raise ProgrammeError({"state": _("The text cannot be changed any more: the programme is %(state)s.",
                                         state=programme.state)}, 409)
    clean = clean_content(content, "content", step.channels or None)
    variables = variables_of(clean)
    sha = content_hash(clean, variables)
    latest = latest_revision(step)
    if latest is not None and latest.sha256 == sha:
        return latest
    rev = PrmContentRevision(programme_id=programme.id, step_id=step.id, number=(latest.number if latest else 0) + 1,
                             content={k: v for k, v in clean.items() if k != "signer"}, signer=clean["signer"],
                             variables=variables, sha256=sha, created_by_id=getattr(actor, "id", None),
                             created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(rev)
            db.session.flush()
    except IntegrityError:
        raise ProgrammeError({"content": _("Someone else changed the text at the same moment; reload and try "
                                           "again.")}, 409) from None
    audit.record("prm.content_revision", programme, f"step {step.position} revision {rev.number}", actor=actor)
    if programme.state == APPROVED:
        content_changed(programme, actor, reason="content edited")
    return rev


def revision_content(rev: PrmContentRevision) -> dict[str, Any]:
    """The revision as the API's ``content`` object: signer plus the text per channel."""
    return {"signer": rev.signer, **{k: dict(v) for k, v in (rev.content or {}).items()}}


def on_approved(programme: PrmProgramme, actor: Any, note: str | None = None) -> None:
    """Stamp the leader's approval on every message step's latest revision (once: an already
    stamped revision keeps its first approval). Called by ``service.fire`` right after the core
    ``approve`` transition, in its transaction."""
    now = utcnow()
    for step in programme.steps:
        if step.kind != "message":
            continue
        rev = latest_revision(step)
        if rev is not None and rev.approved_at is None:
            rev.approved_by_id = getattr(actor, "id", None)
            rev.approved_at = now
            rev.approval_note = (note or "").strip()[:NOTE_MAX] or None
    db.session.flush()


def revisions(step: PrmStep) -> list[PrmContentRevision]:
    """Every revision of ``step``, newest first."""
    return list(db.session.scalars(select(PrmContentRevision).where(PrmContentRevision.step_id == step.id)
                                   .order_by(PrmContentRevision.number.desc())))


def last_approved(step: PrmStep, before: int | None = None) -> PrmContentRevision | None:
    """The newest approved revision (below number ``before``): what an edit is compared against."""
    stmt = select(PrmContentRevision).where(PrmContentRevision.step_id == step.id,
                                            PrmContentRevision.approved_at.is_not(None))
    if before is not None:
        stmt = stmt.where(PrmContentRevision.number < before)
    return db.session.scalar(stmt.order_by(PrmContentRevision.number.desc()).limit(1))


def revision_of(step: PrmStep, number: Any) -> PrmContentRevision | None:
    """Revision ``number`` of ``step`` (None for anything that is not a stored number)."""
    text = str(number)
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**31:
        return None
    return db.session.scalar(select(PrmContentRevision).where(PrmContentRevision.step_id == step.id,
                                                              PrmContentRevision.number == int(text)))


# -- diff -----------------------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text or "")


def diff_text(old: str, new: str) -> list[tuple[str, str]]:
    """``[("equal"|"delete"|"insert", text), …]`` word by word (Korean eojeol, punctuation and
    spaces are tokens of their own), so one changed word shows as one deletion and one insertion."""
    a, b = _tokens(old), _tokens(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("delete", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("insert", "".join(b[j1:j2])))
    return out


def _fields(content: Mapping[str, Any] | None) -> dict[tuple[str, str], str]:
    content = content or {}
    out = {("", "signer"): content.get("signer") or ""}
    for channel in MESSAGE_CHANNELS:
        block = content.get(channel)
        if isinstance(block, Mapping):
            for name in CHANNEL_FIELDS.get(channel, ()):
                if block.get(name) is not None:
                    out[(channel, name)] = block[name]
    return out


def diff(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Per channel and field (signer first), ``{"channel", "field", "path", "changed", "ops"}``
    between two ``revision_content`` objects (``old`` None: everything is new)."""
    a, b = _fields(old), _fields(new)
    keys = sorted(set(a) | set(b), key=lambda k: (k[0] != "", MESSAGE_CHANNELS.index(k[0]) if k[0] else -1,
                                                  ("signer", "subject", "body", "html").index(k[1])))
    out = []
    for channel, name in keys:
        before, after = a.get((channel, name), ""), b.get((channel, name), "")
        out.append({"channel": channel or None, "field": name, "path": f"{channel}.{name}" if channel else name,
                    "changed": before != after, "ops": diff_text(before, after)})
    return out


def diff_revisions(old: PrmContentRevision | None, new: PrmContentRevision) -> list[dict[str, Any]]:
    """:func:`diff` of two revisions of one step."""
    return diff(revision_content(old) if old is not None else None, revision_content(new))


# -- the text as it will be sent ----------------------------------------------------------------


def _signed(text: str, signer: str, *, html: bool = False) -> str:
    """``{{ signer }}`` filled in; the signature appended when the text does not name the signer."""
    from markupsafe import escape

    shown = str(escape(signer)) if html else signer
    text = _SIGNER_VAR.sub(lambda _m: shown, text)
    if signer and signer not in text and shown not in text:
        if html:
            sig = f"<p>{shown} 드림</p>"
            idx = text.lower().rfind("</body>")
            text = text[:idx] + sig + text[idx:] if idx >= 0 else text + sig
        else:
            text = f"{text.rstrip()}\n\n{signer} 드림"
    return text


def message_set_data(programme: PrmProgramme, step: PrmStep, rev: PrmContentRevision) -> dict[str, Any]:
    """The cem message set for ``rev`` (``{"name", "category", "master", "renditions"}``): the
    texts with the leader's signature. The launch stores exactly this set (``cem_create_message_set``)
    and the approval page previews it (``cem_preview_message_set``), so the leader approves what is sent."""
    renditions: dict[str, dict[str, Any]] = {}
    for channel, block in (rev.content or {}).items():
        renditions[channel] = {"subject": block.get("subject"),
                               "body": _signed(block.get("body") or "", rev.signer),
                               "html": _signed(block["html"], rev.signer, html=True) if block.get("html") else None}
    category = programme.category
    return {"name": f"{programme.name} · {step.title or step.position} · r{rev.number}"[:200],
            "category": category.name_ko if category is not None else None, "master": {},
            "renditions": renditions}


def preview(programme: PrmProgramme, step: PrmStep, rev: PrmContentRevision) -> list[dict[str, Any]] | None:
    """Every channel of ``rev`` as cem_channels will send it (``cem_preview_message_set``), or
    None when cem_channels is not active."""
    try:
        return plugin_hook("cem_preview_message_set")(data=message_set_data(programme, step, rev))
    except AttributeError:  # the hookspec is unknown: cem_channels is not installed
        return None


# -- what waits for a leader --------------------------------------------------------------------


def message_steps(programme: PrmProgramme) -> list[PrmStep]:
    return [s for s in programme.steps if s.kind == "message"]


def approval_rows(programme: PrmProgramme, *, with_preview: bool = True) -> list[dict[str, Any]]:
    """Per message step: the latest revision, the last approved one before it, the diff between
    them and the preview — what the approval page and the API show."""
    rows = []
    for step in message_steps(programme):
        rev = latest_revision(step)
        if rev is None:
            rows.append({"step": step, "revision": None, "base": None, "diff": [], "preview": None})
            continue
        base = rev if rev.approved_at is not None else last_approved(step, before=rev.number)
        rows.append({"step": step, "revision": rev, "base": base if base is not rev else None,
                     "diff": diff_revisions(base, rev) if base is not None and base is not rev else [],
                     "preview": preview(programme, step, rev) if with_preview else None})
    return rows


def revision_dict(rev: PrmContentRevision) -> dict[str, Any]:
    """A revision for the JSON API."""
    from portal.toolkit import User

    approver = db.session.get(User, rev.approved_by_id) if rev.approved_by_id else None
    return {"number": rev.number, "sha256": rev.sha256, "content": revision_content(rev),
            "variables": list(rev.variables or []), "created_at": _iso(rev.created_at),
            "created_by": rev.created_by_id, "approved": rev.approved_at is not None,
            "approved_by": ({"id": approver.id, "name": getattr(approver, "name", None) or approver.email}
                            if approver is not None else None),
            "approved_at": _iso(rev.approved_at), "note": rev.approval_note}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    from datetime import UTC

    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
