"""A story's files on its pages: download (``GET /stories/files/<attachment_id>``), upload
(``POST /stories/files/<story_id>/upload``, multipart field ``file``) and removal
(``POST /stories/files/<attachment_id>/delete``). The forms are on the story page
(``ks_stories.detail``) and carry the CSRF token; each answer is a flash and a redirect back.

Who may download is the story's rule, in SQL: the visibility filter, and for anything but a
published story only its author and those who see every story (reviewers, HQ). Anything else is
404, like a missing id — a private story's file never reveals that it exists.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.sql.elements import ColumnElement

from portal.toolkit import (
    StoredFile,
    db,
    file_response,
    has_global_permission,
    id_or_404,
    permission_required,
)

from ..errors import StoryError
from ..models import PUBLISHED, KsAttachment, KsStory
from ..permissions import SEE_ALL, VIEW
from .attachments import add_attachment, remove_attachment
from .visibility import visible_filter

bp = Blueprint("ks_attachments", __name__, url_prefix="/stories/files")


def readable(user: Any) -> ColumnElement[bool]:
    """SQL: the stories whose files ``user`` may read — visible, and published unless the user is
    the author or sees every story."""
    cond = visible_filter(user)
    if has_global_permission(user, SEE_ALL):
        return cond
    return cond & or_(KsStory.author_id == user.id, (KsStory.state == PUBLISHED) & KsStory.base_id.is_(None))


def _story_or_404(story_id: int) -> KsStory:
    story_id = id_or_404(KsStory, story_id)
    story = db.session.scalar(select(KsStory).where(KsStory.id == story_id, readable(current_user)))
    if story is None:
        abort(404)
    return story


def _attachment_or_404(attachment_id: int) -> KsAttachment:
    attachment_id = id_or_404(KsAttachment, attachment_id)
    attachment = db.session.scalar(select(KsAttachment).join(KsStory, KsStory.id == KsAttachment.story_id)
                                   .where(KsAttachment.id == attachment_id, readable(current_user)))
    if attachment is None:
        abort(404)
    return attachment


def _back(story_id: int):
    """Back to the page the form was on: the edit form when it says so, else the story page."""
    endpoint = "ks_stories.edit" if request.form.get("back") == "edit" else "ks_stories.detail"
    if endpoint not in current_app.view_functions:
        endpoint = "ks_stories.detail"
    if endpoint not in current_app.view_functions:
        return redirect(f"/stories/{story_id}", 303)
    return redirect(url_for(endpoint, story_id=story_id) + "#attachments", 303)


def _refused(exc: StoryError, story_id: int):
    if exc.status in (403, 404):
        abort(exc.status)
    for message in exc.errors.values():
        flash(message, "error")
    return _back(story_id)


@bp.route("/<int:attachment_id>")
@permission_required(VIEW)
def download(attachment_id: int):
    """The file, if its story may be read; images are shown in the page, PDFs downloaded
    (``?download=1`` downloads an image too)."""
    attachment = _attachment_or_404(attachment_id)
    stored = db.session.get(StoredFile, attachment.file_id)
    if stored is None:
        abort(404)
    inline = attachment.mime.startswith("image/") and not request.args.get("download")
    return file_response(stored, inline=inline)


@bp.route("/<int:story_id>/upload", methods=["POST"])
@permission_required(VIEW)
def upload(story_id: int):
    """Attach one image or PDF to a private or pending story (its author, or a reviewer)."""
    story = _story_or_404(story_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose an image or a PDF file to upload."), "error")
        return _back(story.id)
    data = upload.read()  # bounded by the request limit (MAX_CONTENT_LENGTH); the file rules come next
    try:
        attachment = add_attachment(story, upload.filename, data, current_user)
        db.session.commit()
    except StoryError as exc:
        db.session.rollback()
        return _refused(exc, story.id)
    flash(_("Attached %(name)s.", name=attachment.filename), "success")
    return _back(story.id)


@bp.route("/<int:attachment_id>/delete", methods=["POST"])
@permission_required(VIEW)
def delete(attachment_id: int):
    """Remove one attachment of a private or pending story (its author, or a reviewer)."""
    attachment = _attachment_or_404(attachment_id)
    story_id, name = attachment.story_id, attachment.filename
    try:
        remove_attachment(attachment, current_user)
        db.session.commit()
    except StoryError as exc:
        db.session.rollback()
        return _refused(exc, story_id)
    flash(_("Removed %(name)s.", name=name), "success")
    return _back(story_id)
