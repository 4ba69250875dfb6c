"""A story's attachments: images and PDFs under the core's upload rules, never personal data.

An upload goes through, in this order: the size limit (cheap, before anything reads the bytes),
the personal-data guard (:func:`.pii.scan_file` — a customer list is refused with its own message
even when it is a CSV, a type the store would refuse anyway: the author learns *why*), then the
core's :func:`check_upload` (images and PDF, extension and magic bytes agree). The bytes go to the
core file store; ``ks_attachment`` holds the reference. Refusals are ``StoryError({"attachments":
message}, 422)`` (with ``findings`` for the API) and write nothing.

Attachments change only while the story is private or pending (a working copy is one of those);
a published story changes through its working copy (409). The author changes them (with
``ks.write``), a reviewer too while the story waits for review. At most :data:`MAX_PER_STORY` per
story, counted under a lock on the story row so two uploads at once cannot pass the limit.

A working copy's attachments are rows of the copy that share the base story's stored files
(:func:`copy_attachments` at check-out); :func:`merge_attachments` moves them into the base story
on publish. A stored file is deleted only when no attachment row references it any more.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.toolkit import (
    UploadRefused,
    audit,
    check_upload,
    db,
    delete_file,
    delete_files,
    has_permission,
    store_file,
    utcnow,
)

from ..errors import StoryError
from ..models import PENDING, PRIVATE, KsAttachment, KsStory
from ..permissions import REVIEW, WRITE
from .pii import describe, finding_dicts, scan_file

__all__ = ["add_attachment", "remove_attachment", "may_change_attachments", "copy_attachments",
           "merge_attachments", "discard_attachments", "purge_files", "MAX_PER_STORY", "KINDS"]

MAX_PER_STORY = 10
KINDS = ("image", "pdf")
#: Findings named in the refusal message (the API's ``findings`` lists them all).
_MESSAGE_FINDINGS = 3


def _max_bytes() -> int:
    mb = current_app.config.get("PORTAL_MAX_ATTACHMENT_MB", 10) if has_app_context() else 10
    return int(mb) * 1024 * 1024


def may_change_attachments(story: KsStory, actor: Any) -> bool:
    """The author (with ``ks.write``) of a private or pending story, or a reviewer of a pending one."""
    if story.state not in (PRIVATE, PENDING) or not getattr(actor, "is_authenticated", False):
        return False
    mine = story.author_id is not None and story.author_id == actor.id and has_permission(actor, WRITE)
    return mine or (story.state == PENDING and has_permission(actor, REVIEW))


def _check_change(story: KsStory, actor: Any) -> None:
    if story.state not in (PRIVATE, PENDING):
        raise StoryError({"attachments": _("Attachments of a published story change through its revised "
                                           "version: edit the story first.")}, 409)
    if not may_change_attachments(story, actor):
        raise StoryError({"attachments": _("Only the story's author (or a reviewer while it waits for review) "
                                           "may change its attachments.")}, 403)


def _lock(story: KsStory) -> None:
    """Hold the story row (PostgreSQL ``FOR UPDATE``; SQLite's write lock serialises anyway) and
    re-read its state: a concurrent publish or a concurrent upload is seen."""
    db.session.execute(select(KsStory.id).where(KsStory.id == story.id).with_for_update())
    db.session.refresh(story, ["state", "base_id", "author_id"])


def add_attachment(story: KsStory, filename: str, data: bytes, actor: Any) -> KsAttachment:
    """Check, store and attach one file; ``StoryError`` (nothing written) when refused. The caller commits."""
    _check_change(story, actor)
    if not data or len(data) > _max_bytes():
        try:
            check_upload(filename, data, kinds=KINDS)  # raises: empty or too large
        except UploadRefused as exc:
            raise StoryError({"attachments": str(exc)}, 422, reason=exc.reason) from None
    findings = scan_file(filename, data)
    if findings:
        listed = [f for f in findings if f.kind == "customer_list"][:1] or findings[:_MESSAGE_FINDINGS]
        message = " ".join(describe(f) for f in listed)
        if len(findings) > len(listed) and listed[0].kind != "customer_list":
            message += " " + _("(%(more)d more)", more=len(findings) - len(listed))
        raise StoryError({"attachments": message}, 422, reason="personal_data", findings=finding_dicts(findings))
    try:
        checked = check_upload(filename, data, kinds=KINDS)
    except UploadRefused as exc:
        raise StoryError({"attachments": str(exc)}, 422, reason=exc.reason) from None
    _lock(story)
    _check_change(story, actor)
    count = db.session.scalar(select(func.count()).select_from(KsAttachment).where(KsAttachment.story_id == story.id))
    if count >= MAX_PER_STORY:
        raise StoryError({"attachments": _("A story has at most %(max)d attachments; remove one first.",
                                           max=MAX_PER_STORY)}, 422, reason="too_many")
    stored = store_file(checked, data, actor)
    attachment = KsAttachment(story_id=story.id, file_id=stored.id, filename=checked.filename, mime=checked.mime,
                              size=checked.size)
    db.session.add(attachment)
    story.updated_at = utcnow()
    db.session.flush()
    db.session.expire(story, ["attachments"])
    audit.record("ks.attachment_added", story, summary=f"{checked.filename} ({checked.mime}, {checked.size} bytes)",
                 actor=actor)
    return attachment


def _drop_unreferenced(file_ids: set[int]) -> None:
    """Delete the stored files no attachment row references any more."""
    if not file_ids:
        return
    used = set(db.session.scalars(select(KsAttachment.file_id).where(KsAttachment.file_id.in_(sorted(file_ids)))))
    for file_id in sorted(file_ids - used):
        delete_file(file_id)


def remove_attachment(attachment: KsAttachment, actor: Any) -> None:
    """Detach one file (and delete it from the store unless another version still uses it). The caller commits."""
    story = db.session.get(KsStory, attachment.story_id)
    if story is None:
        raise StoryError({"attachments": _("This attachment no longer exists.")}, 404)
    _check_change(story, actor)
    _lock(story)
    _check_change(story, actor)
    file_id, name = attachment.file_id, attachment.filename
    db.session.delete(attachment)
    story.updated_at = utcnow()
    db.session.flush()
    db.session.expire(story, ["attachments"])
    _drop_unreferenced({file_id})
    audit.record("ks.attachment_removed", story, summary=name, actor=actor)


def copy_attachments(source: KsStory, target: KsStory) -> None:
    """Check-out: the working copy gets rows for the base story's files (the bytes are shared)."""
    for a in list(source.attachments):
        db.session.add(KsAttachment(story_id=target.id, file_id=a.file_id, filename=a.filename, mime=a.mime,
                                    size=a.size))
    db.session.flush()


def merge_attachments(copy: KsStory, base: KsStory) -> None:
    """Publishing a working copy: the base story's attachments become the copy's (files the copy
    no longer uses are deleted once nothing references them)."""
    old = list(db.session.scalars(select(KsAttachment).where(KsAttachment.story_id == base.id)))
    dropped = {a.file_id for a in old}
    for a in old:
        db.session.delete(a)
    db.session.flush()
    for a in db.session.scalars(select(KsAttachment).where(KsAttachment.story_id == copy.id)):
        a.story_id = base.id
    db.session.flush()
    db.session.expire(base, ["attachments"])
    db.session.expire(copy, ["attachments"])
    _drop_unreferenced(dropped)


def discard_attachments(story: KsStory) -> None:
    """Before a story row is deleted (a discarded working copy): its attachment rows, and the stored
    files no other story uses — ``ON DELETE CASCADE`` would leave those files behind."""
    rows = list(db.session.scalars(select(KsAttachment).where(KsAttachment.story_id == story.id)))
    file_ids = {a.file_id for a in rows}
    for a in rows:
        db.session.delete(a)
    db.session.flush()
    db.session.expire(story, ["attachments"])
    _drop_unreferenced(file_ids)


def purge_files() -> int:
    """Uninstall with purge: every stored file of the add-on's attachments, in one DELETE, before
    ``ks_attachment`` is dropped (``portal_uninstall(purge=True)``). Returns the number deleted."""
    return delete_files(select(KsAttachment.file_id))
