"""Privacy at the edges: a session everyone is invited to, whose agenda holds an R01-only story,
shows the R02 invitee the slot but not the story's title nor link; a working copy is its author's
(and reviewers') — a same-region reader who sees the published story gets 404 for the copy, its
history and its attachments; a private story's attachments and comments are 404 to readers; a
hidden comment's text is shown to moderators only."""

from __future__ import annotations

from tests.plugins.knowledge_share.attack_fixtures import R02, headers, text_of
from tests.plugins.knowledge_share.files_fixtures import PNG
from tests.plugins.knowledge_share.pages_fixtures import client_for, r02_login
from tests.plugins.knowledge_share.sessions_fixtures import session_row
from tests.plugins.knowledge_share.stories_fixtures import published, story, user

SECRET = "지역한정비밀제목"


def test_an_agenda_slot_hides_a_story_the_invitee_may_not_see(app):
    from plugins.knowledge_share.sessions.service import invite, set_agenda
    from portal.toolkit import db

    hq = user("hq@example.com")
    s = published(title=SECRET, visibility="region")
    sess = session_row(title="전국 공유회")
    set_agenda(sess, [{"story": s.id}], hq)
    client = r02_login(app, R02)
    invite(sess, {"regions": ["R01", "R02"]}, hq)
    db.session.commit()
    page = client.get(f"/stories/sessions/{sess.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert SECRET not in html and f"/stories/{s.id}\"" not in html
    doc = client.get(f"/api/v1/ks/sessions/{sess.id}", headers=headers("store5"))
    assert doc.status_code == 200 and SECRET not in text_of(doc)
    ics = client.get(f"/stories/sessions/{sess.id}/session.ics")
    assert ics.status_code == 200 and SECRET not in ics.get_data(as_text=True)
    assert SECRET in client_for(app, "hq@example.com").get(f"/stories/sessions/{sess.id}").get_data(as_text=True)


def test_a_working_copy_is_its_authors_not_the_readers_of_the_story(app):
    from plugins.knowledge_share.stories.attachments import add_attachment
    from plugins.knowledge_share.stories.service import checkout, update_story
    from portal.toolkit import db

    store1 = user("store1@example.com")
    s = published()
    copy = checkout(s, store1)
    update_story(copy, {"title": "고치는 중인 제목"}, store1)
    att = add_attachment(copy, "새사진.png", PNG, store1)
    db.session.commit()
    store2 = client_for(app, "store2@example.com")
    assert store2.get(f"/stories/{s.id}").status_code == 200  # the published story is theirs to read
    for url in (f"/stories/{copy.id}", f"/stories/{copy.id}/history", f"/stories/files/{att.id}"):
        assert store2.get(url).status_code == 404, url
    for url in (f"/api/v1/stories/{copy.id}", f"/api/v1/stories/{copy.id}/history",
                f"/api/v1/ks/stories/{copy.id}/comments"):
        assert store2.get(url, headers=headers("store2")).status_code == 404, url
    assert "고치는 중인 제목" not in store2.get(f"/stories/{s.id}").get_data(as_text=True)
    owner = client_for(app, "store1@example.com")
    assert owner.get(f"/stories/{copy.id}").status_code == 200
    assert owner.get(f"/stories/files/{att.id}").status_code == 200


def test_a_private_storys_attachment_and_comments_are_404_to_readers(app):
    from plugins.knowledge_share.stories.attachments import add_attachment
    from portal.toolkit import db

    s = story(title="비공개 초안")
    att = add_attachment(s, "초안.png", PNG, user("store1@example.com"))
    db.session.commit()
    for who in ("store2", "leader1", "ibo1"):
        client = client_for(app, f"{who}@example.com")
        assert client.get(f"/stories/files/{att.id}").status_code == 404, who
        assert client.get(f"/api/v1/ks/stories/{s.id}/comments", headers=headers(who)).status_code == 404, who
        assert client.post(f"/api/v1/ks/stories/{s.id}/comments", json={"body": "몰래 댓글"},
                           headers=headers(who)).status_code == 404, who
    assert client_for(app, "store1@example.com").get(f"/stories/files/{att.id}").status_code == 200


def test_a_hidden_comments_text_is_for_moderators_only(app):
    from plugins.knowledge_share.social.service import add_comment, hide_comment
    from portal.toolkit import db

    s = published()
    c = add_comment(s.id, user("store2@example.com"), "숨겨야 할 무례한 댓글")
    hide_comment(c.id, user("reviewer@example.com"), "운영 정책 위반입니다")
    db.session.commit()
    for who in ("store1", "hq", "leader1"):
        client = client_for(app, f"{who}@example.com")
        for resp in (client.get(f"/stories/{s.id}"), client.get(f"/stories/social/{s.id}/comments"),
                     client.get(f"/api/v1/ks/stories/{s.id}/comments", headers=headers(who))):
            assert resp.status_code == 200 and "무례한 댓글" not in text_of(resp), who
            assert "운영 정책 위반" not in text_of(resp), who
    reviewer = client_for(app, "reviewer@example.com")
    assert "무례한 댓글" in text_of(reviewer.get(f"/api/v1/ks/stories/{s.id}/comments", headers=headers("reviewer")))
