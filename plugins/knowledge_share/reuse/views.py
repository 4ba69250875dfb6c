"""The "Reuse this campaign" button's endpoint and the story page's reuse panel.

``POST /stories/reuse/<story_id>`` creates the draft (``service.reuse_campaign``) and redirects to
the new campaign's page in cem_channels; a refusal goes back to the story with the message. With
cem_channels off — or a story the user cannot see, or not published — it is 404 like a missing
page. The panel (``knowledge_share/reuse/_panel.html``, included by the story page) gets its data
from ``ks_reuse_panel(story)``, a template function this blueprint provides.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.toolkit import db, permission_required

from ..errors import StoryError
from ..models import KsStory
from ..permissions import REUSE
from . import service

bp = Blueprint("ks_reuse", __name__, url_prefix="/stories/reuse")


def panel(story: KsStory) -> dict[str, Any]:
    """What the panel shows: the button (``may_reuse``), "reused by N units", each reuse's unit and
    its measured result once closed. Nothing when cem_channels is off."""
    if not service.reuse_available() or story.campaign_id is None:
        return {"available": False, "may_reuse": False, "units": 0, "reuses": []}
    reuses = service.reuses_of(story) if story.reuse_count else []
    return {"available": True, "may_reuse": service.may_reuse(story, current_user),
            "units": service.reused_units(story) if reuses else 0, "reuses": reuses}


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"ks_reuse_panel": panel}


def _story_page(story_id: int) -> str:
    try:
        return url_for("ks_stories.detail", story_id=story_id)
    except Exception:  # noqa: BLE001 - the stories pages are another area's blueprint
        return "/stories/"


@bp.post("/<int:story_id>")
@permission_required(REUSE)
def reuse(story_id: int):
    """Create the draft in the user's unit and open it (303 to the campaign's page)."""
    if not service.reuse_available():
        abort(404)
    try:
        story = service.story_for_reuse(story_id, current_user)
        made = service.reuse_campaign(story, current_user)
        db.session.commit()
    except StoryError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(_story_page(story_id), 303)
    flash(_("A draft campaign for your unit was created from this story. Check the audience and the "
            "texts, then send it for approval."), "success")
    return redirect(made.get("url") or _story_page(story_id), 303)
