"""The add-on's settings: the review interval the story service uses, the digest frequency; the
core's settings form validates both (all or nothing)."""

from __future__ import annotations

from portal.plugin_settings import get_settings, save_settings


def test_review_months_and_digest_are_settings(app):
    from plugins.knowledge_share.stories.service import review_months

    assert review_months() == 12
    assert save_settings("knowledge_share", {"review_months": "6", "digest": "weekly"}) == {}
    assert review_months() == 6 and get_settings("knowledge_share")["digest"] == "weekly"
    errors = save_settings("knowledge_share", {"review_months": "0", "digest": "hourly"})
    assert set(errors) == {"review_months", "digest"}
    assert review_months() == 6 and get_settings("knowledge_share")["digest"] == "weekly"
