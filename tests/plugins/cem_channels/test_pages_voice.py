"""Message-set pages (H4a): list, editor, side-by-side preview and delete — in Korean and English,
for HQ and branch staff; scope (another branch's set is 404, HQ's shared set read-only); CE-21
and CE-31 through the form; the SMS/LMS byte class (CE-4); banned terms block and are highlighted;
a set a campaign uses cannot be deleted (409)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token, login, post_form, scalar
from tests.plugins.cem_channels.voice_fixtures import MASTER, make_set, unit_id


@pytest.fixture
def cem(unconfigured_app):
    return unconfigured_app


@pytest.fixture
def client(cem):
    return cem.test_client()


def _form(**overrides) -> dict[str, str]:
    data = {"name": "여름 세일", "category": "건강식품", "offer": "비타민C 1+1", "price": "39,000",
            "valid_from": "2026-06-01", "valid_until": "2026-06-30", "cta": "지금 구매", "cta_url": "https://example.com/c",
            "email_subject": "{{ offer }}", "email_body": "{{ customer.name }}님 {{ offer }} {{ price }}",
            "sms_body": "{{ offer }} {{ price_krw }}", "kakao_body": "{{ offer }} {{ price }}"}
    data.update(overrides)
    return data


def _english(client) -> None:
    post_form(client, "/language", {"lang": "en", "next": "/dashboard"})


@pytest.mark.parametrize("email", ["hq@example.com", "store1@example.com"])
def test_pages_render_in_korean_and_english(cem, client, email):
    set_id = make_set(place="unit:B001")
    login(client, email)
    html = client.get("/message-sets/").get_data(as_text=True)
    assert "메시지 세트" in html and html.count('data-testid="message-set-row"') == 1
    assert client.get("/message-sets/new").status_code == 200
    detail = client.get(f"/message-sets/{set_id}").get_data(as_text=True)
    assert 'data-testid="rendition-sms"' in detail and "미리보기" in detail
    assert client.get(f"/message-sets/{set_id}/edit").status_code == 200
    _english(client)
    html = client.get("/message-sets/").get_data(as_text=True)
    assert "Message sets" in html and "메시지 세트" not in html
    assert "Preview" in client.get(f"/message-sets/{set_id}").get_data(as_text=True)


def test_empty_list_and_search(cem, client):
    login(client, "hq@example.com")
    assert "아직 메시지 세트가 없습니다" in client.get("/message-sets/").get_data(as_text=True)
    make_set("여름 비타민")
    make_set("겨울 화장품", category="화장품")
    assert client.get("/message-sets/?q=화장품").get_data(as_text=True).count('data-testid="message-set-row"') == 1
    assert client.get("/message-sets/?q=비타민").get_data(as_text=True).count('data-testid="message-set-row"') == 1
    assert client.get("/message-sets/?q=%25").get_data(as_text=True).count('data-testid="message-set-row"') == 0
    html = client.get("/message-sets/?sort=name").get_data(as_text=True)
    assert html.index("겨울 화장품") < html.index("여름 비타민")
    assert client.get("/message-sets/?sort=bogus&page=x").status_code in (200, 400)


def test_create_through_the_form_as_branch_staff_lands_in_the_branch(cem, client):
    login(client, "store1@example.com")
    resp = post_form(client, "/message-sets/new", _form(), form_page="/message-sets/new")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    row = scalar("SELECT org_unit_id FROM cem_message_set WHERE name = '여름 세일'")
    assert row == unit_id("B001")
    assert scalar("SELECT COUNT(*) FROM cem_rendition") == 3
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'cem.message_set_created'") == 1
    # no CSRF token: refused, nothing written
    assert client.post("/message-sets/new", data=_form(name="x")).status_code in (400, 422)
    assert scalar("SELECT COUNT(*) FROM cem_message_set") == 1


def test_branch_staff_scope(cem, client):
    own = make_set("강남", place="unit:B001")
    other = make_set("다른 지점", place="unit:B002")
    shared = make_set("본사 공용")
    group = make_set("그룹", place="group:G01")
    login(client, "store1@example.com")
    html = client.get("/message-sets/").get_data(as_text=True)
    assert "강남" in html and "본사 공용" in html and "다른 지점" not in html and "그룹" not in html
    assert client.get(f"/message-sets/{other}").status_code == 404
    assert client.get(f"/message-sets/{other}/edit").status_code == 404
    assert client.get(f"/message-sets/{group}").status_code == 404
    assert client.get("/message-sets/999999999999999999999").status_code == 404
    token = csrf_token(client, f"/message-sets/{own}")
    assert client.post(f"/message-sets/{other}/delete", data={"csrf_token": token}).status_code == 404
    # HQ's shared set: read, not change
    assert client.get(f"/message-sets/{shared}").status_code == 200
    assert client.get(f"/message-sets/{shared}/edit").status_code == 403
    assert client.post(f"/message-sets/{shared}/delete", data={"csrf_token": token}).status_code == 403
    assert scalar("SELECT COUNT(*) FROM cem_message_set") == 4
    # the group leader sees the group's set and the shared one only
    leader = cem.test_client()
    login(leader, "leader1@example.com")
    html = leader.get("/message-sets/").get_data(as_text=True)
    assert "그룹" in html and "본사 공용" in html and "강남" not in html
    assert leader.get(f"/message-sets/{group}/edit").status_code == 200
    # reviewers do not compose
    reviewer = cem.test_client()
    login(reviewer, "reviewer@example.com")
    assert reviewer.get("/message-sets/").status_code == 403


def test_ce21_render_errors_are_shown_next_to_the_field(cem, client):
    login(client, "hq@example.com")
    resp = post_form(client, "/message-sets/new", _form(sms_body="{{ ''.__class__.__mro__ }}",
                                                        kakao_body="안녕하세요\n{{ custmer.name }}"),
                     form_page="/message-sets/new")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "sms.body" in html and "kakao.body, 2행" in html and "정의되지 않은 변수 custmer" in html
    assert scalar("SELECT COUNT(*) FROM cem_message_set") == 0  # nothing written
    # a script in a customer's name arrives escaped in the HTML e-mail
    set_id = make_set(renditions={"email": {"subject": "s", "body": "b", "html": "<p>{{ customer.name }}</p>"}})
    from plugins.cem_channels.voice import preview
    from plugins.cem_channels.voice_models import CemMessageSet
    from portal.extensions import db

    rendered = preview(db.session.get(CemMessageSet, set_id), {"name": "<script>x</script>"}, marketing=False)
    assert "&lt;script&gt;" in rendered[0].html


def test_ce31_literal_price_differs_from_the_master(cem, client):
    login(client, "hq@example.com")
    resp = post_form(client, "/message-sets/new", _form(sms_body="{{ offer }} 단 ₩35,000!"),
                     form_page="/message-sets/new")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "₩35,000" in html and "sms.body" in html
    # the field keeps what was typed, marked with the error
    assert re.search(r'has-error[^>]*>\s*<label for="sms_body"', html)
    # HQ changes the master price: every rendition shows the new price
    set_id = make_set()
    edit = f"/message-sets/{set_id}/edit"
    resp = post_form(client, edit, _form(name="6월 비타민", price="37,000", sms_body="{{ offer }} {{ price_krw }}"),
                     form_page=edit)
    assert resp.status_code == 302
    html = client.get(f"/message-sets/{set_id}").get_data(as_text=True)
    assert "37,000원" in html and "￦37,000" in html and "39,000" not in html
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'cem.message_set_updated'") == 1


def test_preview_shows_the_lms_class_with_the_legal_wrapper(cem, client):
    body = "{{ customer.name }}님, 건강식품 세미나(6/12 19시 강남점)에 초대합니다."
    set_id = make_set(master={**MASTER, "valid_from": "2026-06-12", "valid_until": "2026-06-12"},
                      renditions={"sms": {"body": body}})
    login(client, "hq@example.com")
    html = client.get(f"/message-sets/{set_id}").get_data(as_text=True)
    assert "100/90 bytes — LMS" in html or "100/90바이트 — LMS" in html
    assert "(광고)파트너포털" in html and "무료수신거부 080-123-4567" in html
    # as a service message: no wrapper, an SMS
    html = client.get(f"/message-sets/{set_id}?purpose=service").get_data(as_text=True)
    assert "(광고)" not in html and "SMS" in html


def test_preview_for_a_customer_in_scope_only(cem, client):
    set_id = make_set(place="unit:B001")
    mine = scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' "
                  "AND c.pseudonymized_at IS NULL ORDER BY c.id")
    theirs = scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B002' "
                    "ORDER BY c.id")
    name = scalar("SELECT name FROM customer WHERE id = :i", i=mine)
    login(client, "store1@example.com")
    html = client.get(f"/message-sets/{set_id}?customer_id={mine}").get_data(as_text=True)
    assert f"{name}님" in html
    assert client.get(f"/message-sets/{set_id}?customer_id={theirs}").status_code == 404
    assert client.get(f"/message-sets/{set_id}?customer_id=abc").status_code == 404


def test_banned_term_blocks_approval_and_is_highlighted(cem, client):
    from plugins.cem_channels.voice_models import CemBannedTerm
    from portal.extensions import db

    db.session.add(CemBannedTerm(category="건강식품", term="완치"))
    db.session.commit()
    set_id = make_set(renditions={"kakao": {"body": "{{ offer }}로 관절염 완 치!"}})
    login(client, "hq@example.com")
    html = client.get(f"/message-sets/{set_id}").get_data(as_text=True)
    assert "승인할 수 없습니다" in html or "Not approvable" in html
    assert "<mark>완 치</mark>" in html and "완치" in html


def test_delete_only_when_no_campaign_uses_it(cem, client):
    used = make_set("사용 중")
    free = make_set("미사용")
    from plugins.cem_channels.campaign_models import CemCampaign, CemCampaignStep
    from portal.extensions import db

    campaign = CemCampaign(name="캠페인", purpose="marketing")
    db.session.add(campaign)
    db.session.flush()
    db.session.add(CemCampaignStep(campaign_id=campaign.id, position=1, channel="sms", message_set_id=used))
    db.session.commit()
    login(client, "hq@example.com")
    token = csrf_token(client, f"/message-sets/{used}")
    resp = client.post(f"/message-sets/{used}/delete", data={"csrf_token": token})
    assert resp.status_code == 409 and "캠페인" in resp.get_data(as_text=True)
    assert client.post(f"/message-sets/{free}/delete", data={"csrf_token": token}).status_code == 302
    assert scalar("SELECT COUNT(*) FROM cem_message_set") == 1
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'cem.message_set_deleted'") == 1
