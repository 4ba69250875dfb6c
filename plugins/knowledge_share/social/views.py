"""Pages of the social area under ``/stories/social``: the story page's panel (``_panel.html``,
included by the story page with ``story``; its data comes from the template function
``ks_social_panel(story)``), the form posts behind it (comment, vote, hide, follow) and the page
of one's followed tags. Every post is CSRF-protected and redirects back to the story page; the
rules (visibility, published only, one vote per version) are the service's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound

from portal.toolkit import db, has_permission, parse_page_args, permission_required

from ..errors import StoryError
from ..models import PUBLISHED, SEASONS, STORY_CHANNELS, KsStory
from ..permissions import MODERATE, VIEW
from . import service

bp = Blueprint("ks_social", __name__, url_prefix="/stories/social", template_folder="../templates")
PANEL_COMMENTS = 20


def story_url(story_id: int) -> str:
    """The story page (the stories area's), or the full comments page while it is not registered."""
    if "ks_stories.detail" in current_app.view_functions:
        return url_for("ks_stories.detail", story_id=story_id) + "#ks-social"
    return url_for("ks_social.comments", story_id=story_id)


def _back(story_id: int | None = None) -> Any:
    """Back to a local ``next`` (never another host), else the story page, else the follows page."""
    nxt = request.form.get("next") or ""
    parts = urlsplit(nxt)
    if nxt.startswith("/") and not nxt.startswith("//") and not parts.scheme and not parts.netloc and "\\" not in nxt:
        return redirect(nxt)
    if story_id is not None:
        return redirect(story_url(story_id))
    return redirect(url_for("ks_social.follows"))


def _flash_refusal(exc: StoryError) -> None:
    if exc.status == 404:
        raise NotFound()
    for message in exc.errors.values():
        flash(message, "error")


def panel(story: KsStory, page: int = 1, per_page: int = PANEL_COMMENTS) -> dict[str, Any]:
    """What the story page's panel shows, for the signed-in reader (a few queries, none per comment)."""
    user = current_user
    published = story.state == PUBLISHED and story.base_id is None
    comments = service.comments_page(story, user, page, per_page)
    tags = service.story_tags(story)
    followed = {(f.kind, f.value): f.id for f in service.follows_of(user)} if tags else {}
    cats = service._category_labels(int(v) for k, v in tags if k == "category")
    return {
        "published": published,
        "comments": comments,
        "helpful_count": story.helpful_count,
        "voted": published and service.has_voted(story, user),
        "own_story": story.author_id is not None and story.author_id == user.id,
        "can_moderate": has_permission(user, MODERATE),
        "can_comment": published and has_permission(user, VIEW),
        "tags": [{"kind": k, "value": v, "label": service.follow_label(k, v, cats),
                  "kind_label": str(service.KIND_LABELS[k]), "follow_id": followed.get((k, v))} for k, v in tags],
        "needs_review": service.needs_review(story) and service.may_see_freshness(story, user),
        "comment_max": service.COMMENT_MAX,
        "next": request.full_path.rstrip("?") + "#ks-social",
    }


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"ks_social_panel": panel, "ks_needs_review": service.needs_review}


@bp.get("/<story_id>/comments")
@permission_required(VIEW)
def comments(story_id: str):
    """Every comment of a story, 20 a page (the story page's panel shows the first page)."""
    try:
        story = service.story_or_404(story_id, current_user)
    except StoryError as exc:
        _flash_refusal(exc)
        raise
    page, _size = parse_page_args(request.args, default_size=PANEL_COMMENTS)
    return render_template("knowledge_share/social/comments.html", story=story, story_href=story_url(story.id),
                           social=panel(story, page))


@bp.post("/<story_id>/comments")
@permission_required(VIEW)
def add_comment(story_id: str):
    try:
        comment = service.add_comment(story_id, current_user, request.form.get("body", ""))
    except StoryError as exc:
        db.session.rollback()
        _flash_refusal(exc)
        return _back(service._parse_id(story_id))
    db.session.commit()
    flash(_("Comment added."), "success")
    return _back(comment.story_id)


@bp.post("/<story_id>/vote")
@permission_required(VIEW)
def vote(story_id: str):
    """``action=vote`` (default) or ``unvote``."""
    try:
        if request.form.get("action") == "unvote":
            story, _done = service.unvote(story_id, current_user)
        else:
            story, _done = service.vote(story_id, current_user)
    except StoryError as exc:
        db.session.rollback()
        _flash_refusal(exc)
        return _back(service._parse_id(story_id))
    db.session.commit()
    return _back(story.id)


@bp.post("/comments/<comment_id>/hide")
@permission_required(MODERATE)
def hide(comment_id: str):
    """``action=hide`` with a ``reason``, or ``action=unhide``."""
    try:
        if request.form.get("action") == "unhide":
            comment = service.unhide_comment(comment_id, current_user)
            message = _("The comment is shown again.")
        else:
            comment = service.hide_comment(comment_id, current_user, request.form.get("reason", ""))
            message = _("The comment is hidden; a placeholder stays in its place.")
    except StoryError as exc:
        db.session.rollback()
        _flash_refusal(exc)
        return _back()
    db.session.commit()
    flash(message, "success")
    return _back(comment.story_id)


def _choices() -> list[dict[str, Any]]:
    """The tags one may follow, grouped by kind (the add form's options)."""
    from sqlalchemy import select

    from portal.toolkit import Category

    ko = service._locale() == "ko"
    cats = db.session.execute(select(Category).order_by(Category.code)).scalars().all()
    return [
        {"kind": "category", "label": str(service.KIND_LABELS["category"]),
         "options": [(str(c.id), c.name_ko if ko else c.name_en) for c in cats]},
        {"kind": "channel", "label": str(service.KIND_LABELS["channel"]),
         "options": [(c, str(service.CHANNEL_LABELS.get(c, c))) for c in STORY_CHANNELS]},
        {"kind": "rfm", "label": str(service.KIND_LABELS["rfm"]),
         "options": [(k, str(v)) for k, v in service.RFM_SEGMENTS.items()]},
        {"kind": "season", "label": str(service.KIND_LABELS["season"]),
         "options": [(s, str(service.SEASON_LABELS.get(s, s))) for s in SEASONS]},
    ]


@bp.get("/follows")
@permission_required(VIEW)
def follows():
    """My followed tags: unfollow, follow another, and how the digest comes."""
    rows = service.follows_of(current_user)
    cats = service._category_labels(int(f.value) for f in rows if f.kind == "category" and f.value.isdigit())
    items = [{"id": f.id, "kind": f.kind, "kind_label": str(service.KIND_LABELS.get(f.kind, f.kind)),
              "label": service.follow_label(f.kind, f.value, cats), "since": f.created_at} for f in rows]
    return render_template("knowledge_share/social/follows.html", items=items, choices=_choices(),
                           weekly=service._digest_setting() == "weekly", limit=service.FOLLOWS_MAX,
                           keyword_max=service.KEYWORD_MAX)


@bp.post("/follows")
@permission_required(VIEW)
def add_follow():
    """``tag=kind:value`` (the select) or ``kind`` + ``value`` (the keyword field, a story's tag)."""
    tag = request.form.get("tag") or ""
    kind, value = (tag.split(":", 1) if ":" in tag else (request.form.get("kind"), request.form.get("value")))
    try:
        row, created = service.follow(current_user, kind, value)
    except StoryError as exc:
        db.session.rollback()
        _flash_refusal(exc)
        return _back()
    db.session.commit()
    label = service.follow_label(row.kind, row.value)
    flash(_("You follow %(tag)s: new stories with it come in your digest.", tag=label) if created
          else _("You already follow %(tag)s.", tag=label), "success")
    return _back()


@bp.post("/follows/<follow_id>/delete")
@permission_required(VIEW)
def remove_follow(follow_id: str):
    try:
        service.unfollow(current_user, follow_id)
    except StoryError as exc:
        db.session.rollback()
        _flash_refusal(exc)
        return _back()
    db.session.commit()
    flash(_("Unfollowed."), "success")
    return _back()


__all__ = ["bp", "panel", "story_url", "SEASONS"]
