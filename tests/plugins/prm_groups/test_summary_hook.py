"""``prm_programme_summary``: another add-on learns a programme's name and page only when the
actor may see it (HQ all, the group's leader their own), the system (None) always."""

from __future__ import annotations

from portal.toolkit import plugin_hook
from tests.plugins.prm_groups.programmes_fixtures import programme, user


def test_summary_follows_the_programmes_scope(app):
    p = programme()
    hook = plugin_hook("prm_programme_summary")
    seen = hook(programme_id=p.id, actor=user("hq@example.com"))
    assert seen == {"id": p.id, "name": p.name, "group": "G01", "category": "health", "state": "draft",
                    "url": f"/prm/programmes/{p.id}/results"}
    assert hook(programme_id=p.id, actor=user("leader1@example.com"))["id"] == p.id
    assert hook(programme_id=p.id, actor=user("store1@example.com")) is None
    assert hook(programme_id=p.id, actor=None)["name"] == p.name
    for junk in (0, -1, 2**40, "1", True, None, 1.5):
        assert hook(programme_id=junk, actor=None) is None
