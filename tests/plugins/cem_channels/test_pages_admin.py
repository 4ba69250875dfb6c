"""HQ's channel pages (H4a, ``cem.manage``): counts and links; banned terms (add, refuse a
duplicate, CSV import all-or-nothing, remove); caller numbers (normalised, verified with a date,
the default sender kept — CE-25); 알림톡 templates; the 080 file upload reporting row 4 (CE-11);
the reply review queue (CE-12). Store staff are refused (403, the portal's answer for a missing
permission); every change is audited."""

from __future__ import annotations

import io

import pytest

from tests.conftest import csrf_token, login, post_form, scalar


@pytest.fixture
def client(app):
    c = app.test_client()
    login(c, "hq@example.com")
    return c


def _audits(action: str) -> int:
    return scalar("SELECT COUNT(*) FROM audit_event WHERE action = :a", a=action)


@pytest.mark.parametrize("path", ["/manage/cem/", "/manage/cem/banned-terms", "/manage/cem/senders",
                                  "/manage/cem/kakao-templates", "/manage/cem/optout", "/manage/cem/replies"])
def test_pages_render_for_hq_in_korean_and_english_and_are_refused_to_store_staff(app, client, path):
    html = client.get(path).get_data(as_text=True)
    assert "금지어" in html and "발신번호" in html  # the tabs, in Korean
    post_form(client, "/language", {"lang": "en", "next": "/dashboard"})
    html = client.get(path).get_data(as_text=True)
    assert "Banned terms" in html and "Caller numbers" in html
    store = app.test_client()
    login(store, "store1@example.com")
    assert store.get(path).status_code == 403
    token = csrf_token(store, "/dashboard")
    assert store.post(path, data={"csrf_token": token}).status_code in (403, 405)


def test_index_counts_and_the_menu(app, client):
    html = client.get("/manage/cem/").get_data(as_text=True)
    assert 'href="/manage/cem/"' in html and 'href="/message-sets/"' in html  # both menu entries for HQ
    store = app.test_client()
    login(store, "store1@example.com")
    menu = store.get("/message-sets/").get_data(as_text=True)
    assert 'href="/message-sets/"' in menu and 'href="/manage/cem/"' not in menu
    assert "2개 중 1개 통신사 등록 완료" in html  # the fixture's verified and unverified numbers
    assert "기본 발신번호: 0215881234" in html


def test_banned_terms_add_duplicate_import_and_remove(app, client):
    page = "/manage/cem/banned-terms"
    assert "금지어가 없습니다" in client.get(page).get_data(as_text=True)
    assert post_form(client, page, {"category": "건강식품", "term": "완치", "note": "질병 치료 표방"},
                     form_page=page).status_code == 302
    resp = post_form(client, page, {"category": "건강식품", "term": "완치"}, form_page=page)
    assert resp.status_code == 422 and "이미 건강식품에서 금지" in resp.get_data(as_text=True)
    resp = post_form(client, page, {"category": "", "term": "x"}, form_page=page)
    assert resp.status_code == 422
    assert scalar("SELECT COUNT(*) FROM cem_banned_term") == 1
    token = csrf_token(client, page)
    bad = "category,term\n건강식품,치료\n,예방\n".encode()
    client.post(f"{page}/upload", data={"csrf_token": token, "file": (io.BytesIO(bad), "t.csv")},
                content_type="multipart/form-data")
    assert scalar("SELECT COUNT(*) FROM cem_banned_term") == 1  # all or nothing: row 3 was bad
    good = "category,term,note\n건강식품,치료,\n건강식품,완치,\n화장품,주름 개선,기능성 인증 필요\n".encode("cp949")
    client.post(f"{page}/upload", data={"csrf_token": token, "file": (io.BytesIO(good), "t.csv")},
                content_type="multipart/form-data")
    assert scalar("SELECT COUNT(*) FROM cem_banned_term") == 3
    html = client.get(f"{page}?category=화장품").get_data(as_text=True)
    assert html.count('data-testid="banned-term-row"') == 1 and "주름 개선" in html
    term_id = scalar("SELECT id FROM cem_banned_term WHERE term = '치료'")
    assert client.post(f"{page}/{term_id}/delete", data={"csrf_token": token}).status_code == 302
    assert scalar("SELECT COUNT(*) FROM cem_banned_term") == 2
    assert _audits("cem.banned_term_added") == 1 and _audits("cem.banned_terms_imported") == 1
    assert _audits("cem.banned_term_removed") == 1


def test_caller_numbers_normalised_verified_and_the_default_kept(app, client):
    page = "/manage/cem/senders"
    assert post_form(client, page, {"number": "+82 10-5555-0001", "label": "이벤트"}, form_page=page).status_code == 302
    assert scalar("SELECT verified_at FROM cem_sender_number WHERE number = '01055550001'") is None
    assert post_form(client, page, {"number": "1588-0000", "verified_on": "2026-06-01"},
                     form_page=page).status_code == 302
    assert scalar("SELECT COUNT(*) FROM cem_sender_number WHERE number = '15880000' AND verified_at IS NOT NULL") == 1
    for number, message in (("abc", "국내 발신번호가 아닙니다"), ("010-5555-0001", "이미 등록된 번호"),
                            ("02-1588-1234", "이미 등록된 번호")):
        resp = post_form(client, page, {"number": number}, form_page=page)
        assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    sender_id = scalar("SELECT id FROM cem_sender_number WHERE number = '01055550001'")
    assert post_form(client, f"{page}/{sender_id}/verify", {"verified_on": "2026-06-02"},
                     form_page=page).status_code == 302
    assert str(scalar("SELECT verified_at FROM cem_sender_number WHERE id = :i", i=sender_id)).startswith("2026-06-02")
    default_id = scalar("SELECT id FROM cem_sender_number WHERE number = '0215881234'")
    assert post_form(client, f"{page}/{default_id}/delete", {}, form_page=page).status_code == 409
    assert post_form(client, f"{page}/{sender_id}/delete", {}, form_page=page).status_code == 302
    assert scalar("SELECT COUNT(*) FROM cem_sender_number") == 3
    assert _audits("cem.sender_added") == 2 and _audits("cem.sender_verified") == 1
    assert _audits("cem.sender_removed") == 1
    assert post_form(client, f"{page}/999999/verify", {"verified_on": "2026-06-02"}, form_page=page).status_code == 404


def test_kakao_templates(app, client):
    page = "/manage/cem/kakao-templates"
    assert post_form(client, page, {"code": "ORDER_01", "name": "주문 안내", "body": "#{이름}님 주문이 접수되었습니다."},
                     form_page=page).status_code == 302
    resp = post_form(client, page, {"code": "ORDER_01", "body": "x"}, form_page=page)
    assert resp.status_code == 422 and "이미 있습니다" in resp.get_data(as_text=True)
    assert post_form(client, page, {"code": "bad code!", "body": "x"}, form_page=page).status_code == 422
    resp = post_form(client, page, {"code": "AD_01", "body": "(광고) 세일"}, form_page=page)
    assert resp.status_code == 422 and "친구톡" in resp.get_data(as_text=True)  # 알림톡 carries no ads (CE-24)
    tid = scalar("SELECT id FROM cem_kakao_template WHERE code = 'ORDER_01'")
    assert scalar("SELECT approved_at FROM cem_kakao_template WHERE id = :i", i=tid) is None
    assert post_form(client, f"{page}/{tid}/approve", {"verified_on": "2026-05-30"}, form_page=page).status_code == 302
    assert scalar("SELECT approved_at FROM cem_kakao_template WHERE id = :i", i=tid) is not None
    assert post_form(client, f"{page}/{tid}/delete", {}, form_page=page).status_code == 302
    assert _audits("cem.kakao_template_added") == 1 and _audits("cem.kakao_template_approved") == 1
    assert _audits("cem.kakao_template_removed") == 1


def test_optout_upload_reports_row_4_invalid(app, client):
    page = "/manage/cem/optout"
    token = csrf_token(client, page)
    data = b"phone,requested_at\n010-1234-5678,2026-06-01\n01012345678\n+82 10-1234-5678\nabc\n"
    resp = client.post(page, data={"csrf_token": token, "file": (io.BytesIO(data), "080.csv")},
                       content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'data-testid="optout-result"' in html
    assert html.count('data-testid="bad-row"') == 1
    assert '<td class="num" data-label="행">4</td>' in html and "abc" in html
    assert scalar("SELECT COUNT(*) FROM cem_suppressed_number WHERE number = '01012345678'") == 1
    assert _audits("cem.optout_import") == 1
    # an empty or binary file is refused as a whole, with a message
    for content in (b"", b"\x00\x01\x02"):
        resp = client.post(page, data={"csrf_token": token, "file": (io.BytesIO(content), "e.csv")},
                           content_type="multipart/form-data")
        assert resp.status_code == 422
    resp = client.post(page, data={"csrf_token": token, "file": (io.BytesIO(b"01012345678"), "x.xlsx")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "CSV 또는 TXT" in resp.get_data(as_text=True)


def test_reply_review_queue(app, client):
    from plugins.cem_channels.optout import receive_reply
    from portal.extensions import db

    ambiguous = receive_reply("010-7777-0003", "Stop. Thank you").id
    other = receive_reply("010-7777-0004", "감사합니다").id
    receive_reply("010-7777-0005", "Out of office")
    db.session.commit()
    page = "/manage/cem/replies"
    html = client.get(page).get_data(as_text=True)
    assert html.count('data-testid="reply-row"') == 2 and "Stop. Thank you" in html and "010****0003" in html
    assert "2건 대기" in client.get("/manage/cem/").get_data(as_text=True)
    token = csrf_token(client, page)
    assert client.post(f"{page}/{ambiguous}", data={"csrf_token": token, "decision": "opt_out"}).status_code == 302
    assert client.post(f"{page}/{other}", data={"csrf_token": token, "decision": "keep"}).status_code == 302
    assert scalar("SELECT status FROM cem_inbound_reply WHERE id = :i", i=ambiguous) == "opted_out"
    assert scalar("SELECT COUNT(*) FROM cem_suppressed_number WHERE number = '01077770003'") == 1
    # decided already / a bad decision / unknown reply: a message or 404, never a 500
    resp = client.post(f"{page}/{other}", data={"csrf_token": token, "decision": "keep"}, follow_redirects=True)
    assert resp.status_code == 200 and "이미" in resp.get_data(as_text=True)
    assert client.post(f"{page}/{other}", data={"csrf_token": token, "decision": "x"}).status_code == 302
    assert client.post(f"{page}/99999", data={"csrf_token": token, "decision": "keep"}).status_code == 404
    assert "Out of office" in client.get(f"{page}?status=ignored").get_data(as_text=True)
    assert _audits("cem.reply_decided") == 2
