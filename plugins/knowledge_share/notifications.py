"""Notification kinds of the add-on (``portal_notification_kinds``); each area appends its own."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

KINDS: list[dict[str, Any]] = [
    # stories (review) need none of their own: the core workflow tells the reviewers who may publish
    # a submitted story ("workflow.waiting") and the author of a decision, with the comment
    # ("workflow.decided").
    # social: the digest of new stories in followed tags; freshness
    {"kind": "ks.digest", "label": _l("New success stories in tags you follow"), "email_default": True},
    {"kind": "ks.needs_review", "label": _l("Your success story needs a review"), "email_default": False},
    # sessions: invitations with .ics, action items
    {"kind": "ks.session_invitation", "label": _l("Knowledge-sharing session invitation"), "email_default": True},
    {"kind": "ks.action_item", "label": _l("Action item from a knowledge-sharing session"), "email_default": False},
]
