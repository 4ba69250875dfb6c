"""The workflow ``ks_story``: the story's ``state`` column is the workflow state, moved only through
the story service (``stories/service.fire``), which runs the personal-data guard on submit, writes a
working copy into its base story on publish, and keeps the search index in step.

``private → pending → published → archived``; ``pending → private`` by a reviewer's rejection
(a comment of at least 10 characters) or the author's retraction; ``published → private`` by the
author's retraction; ``archived → published`` by a reviewer. A working copy (``base_id`` set) ends
in ``merged`` when a reviewer publishes it (the system's ``merge`` right after ``publish``).
Publishing approves the exact revision the reviewer saw, and is four-eyes: never one's own story."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import not_owner, owner_only, purge_type, register_type

from .models import ARCHIVED, MERGED, PENDING, PRIVATE, PUBLISHED, KsStory
from .permissions import REVIEW, VIEW, WRITE

TYPE_NAME = "ks.story"
SYSTEM = "ks.system"

WORKFLOW: dict[str, Any] = {
    "name": "ks_story",
    "title": _l("Success story"),
    "initial": PRIVATE,
    "states": [
        {"id": PRIVATE, "title": _l("Private")},
        {"id": PENDING, "title": _l("Pending review"), "review": True},
        {"id": PUBLISHED, "title": _l("Published")},
        {"id": ARCHIVED, "title": _l("Archived")},
        {"id": MERGED, "title": _l("Published into the story")},
    ],
    "transitions": [
        {"id": "submit", "title": _l("Submit for review"), "from": [PRIVATE], "to": PENDING,
         "permission": WRITE, "task": False, "order": 10},
        {"id": "publish", "title": _l("Publish"), "from": [PENDING], "to": PUBLISHED,
         "permission": REVIEW, "approves": True, "guard": not_owner, "order": 20},
        {"id": "reject", "title": _l("Send back"), "from": [PENDING], "to": PRIVATE,
         "permission": REVIEW, "requires_comment": True, "min_comment_length": 10, "order": 30},
        {"id": "retract", "title": _l("Retract"), "from": [PENDING, PUBLISHED], "to": PRIVATE,
         "permission": WRITE, "guard": owner_only, "task": False, "order": 40},
        {"id": "archive", "title": _l("Archive"), "from": [PUBLISHED], "to": ARCHIVED,
         "permission": REVIEW, "task": False, "order": 50},
        {"id": "restore", "title": _l("Publish again"), "from": [ARCHIVED], "to": PUBLISHED,
         "permission": REVIEW, "task": False, "order": 60},
        # the system's: a published working copy has been written into its base story
        {"id": "merge", "title": _l("Published into the story"), "from": [PUBLISHED], "to": MERGED,
         "permission": SYSTEM, "task": False, "order": 100},
    ],
}

WORKFLOWS = [WORKFLOW]


def _title(story: KsStory) -> str:
    return story.title


def _url(story: KsStory) -> str:
    from flask import has_request_context, url_for

    if has_request_context():
        try:
            return url_for("ks_stories.detail", story_id=story.id)
        except Exception:  # noqa: BLE001 - the pages may not be registered (tests of the service alone)
            pass
    return f"/stories/{story.id}"


def _scope(user: Any, permission: str):
    from .stories.visibility import visible_filter

    return visible_filter(user)


def _context(story: KsStory) -> Any:
    """Permissions are checked on the author's unit (a branch staff member writes for their branch)
    or group; ``content.review`` is global."""
    from portal.toolkit import OrgUnit, PartnerGroup, db

    if story.author_unit_id is not None:
        return db.session.get(OrgUnit, story.author_unit_id)
    if story.author_group_id is not None:
        return db.session.get(PartnerGroup, story.author_group_id)
    return None


def revision(story: KsStory) -> dict[str, Any]:
    """What a reviewer approves: every field the story page shows."""
    from .stories.service import revision_data

    return revision_data(story)


def register() -> None:
    register_type(TYPE_NAME, KsStory, workflow="ks_story", scope_permission=VIEW, title=_title, url=_url,
                  revision=revision, label=_l("Success story"), state_attr="state", owner_attr="author_id",
                  since_attr="updated_at", scope=_scope, context=_context,
                  endpoint=False)  # transitions run through the story service


def purge() -> int:
    """Uninstall with purge: the stories' workflow history goes with their tables."""
    return purge_type(TYPE_NAME)
