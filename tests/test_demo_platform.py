"""``flask portal demo`` shows the platform at work: a first visitor finds contact history, an
outbox with sent / suppressed / cancelled / expired / paused messages, an inbox with read and
unread notifications linking to real objects, approvals waiting in "my tasks" and a frozen
experiment with a result panel — each as the demo user who should see it.
"""

from __future__ import annotations

import re

import pytest

from portal.extensions import db
from tests.conftest import login, make_app, scalar, sql
from tests.dbs import fresh_empty_db

CUSTOMERS = 600  # enough for a campaign of a hundred and a holdout; the load stays a few seconds


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """What ``make run`` does on a fresh database (with the loyalty add-on, whose approvals the
    demo requests), loaded once for the module: the tests only read it."""
    from portal.migrations_support import upgrade_core

    tmp = tmp_path_factory.mktemp("demo_platform")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PORTAL_INSTANCE_PATH", str(tmp / "instance"))
        url, drop = fresh_empty_db(tmp)
        app = make_app(url, PORTAL_PLUGINS=["plugins.loyalty"])
        with app.app_context():
            upgrade_core()
            result = app.test_cli_runner().invoke(args=["portal", "demo", "--customers", str(CUSTOMERS)])
            assert result.exit_code == 0 and "Traceback" not in result.output, result.output
            assert "contact history:" in result.output and "notifications:" in result.output, result.output
            app.config["demo_output"] = result.output
            yield app
            db.session.remove()
            db.engine.dispose()
        drop()


def _client(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _badge(html: str, testid: str) -> int:
    match = re.search(rf'data-testid="{testid}"[^>]*>[^<]*<span class="badge">([\d,]+)</span>', html)
    assert match, testid
    return int(match.group(1).replace(",", ""))


def test_outbox_shows_each_outcome_of_the_demo_campaigns(demo_app):
    html = _client(demo_app, "hq@example.com").get("/manage/messages/").get_data(as_text=True)
    assert _badge(html, "tab-sent") >= 30
    assert _badge(html, "tab-suppressed_at_send") >= 3  # the campaign's holdout, service mail without an address
    assert _badge(html, "tab-cancelled") == 1  # unsubscribed before the send
    assert _badge(html, "tab-expired") == 3  # a reminder that came too late
    assert _badge(html, "tab-queued") >= 5 and 'data-testid="paused-demo-campaign:new-year"' in html
    reasons = {r for (r,) in sql("SELECT DISTINCT status_reason FROM message WHERE status = 'suppressed_at_send'")}
    assert {"holdout", "no_address"} <= reasons, reasons
    # The campaign went out lawfully: "(광고)" first, and the contact history got each sent message.
    subjects = {s for (s,) in sql("SELECT DISTINCT subject FROM message WHERE purpose = 'marketing'")}
    assert subjects and all(s.startswith("(광고)") for s in subjects)
    sent = scalar("SELECT COUNT(*) FROM message WHERE status = 'sent' AND customer_id IS NOT NULL")
    assert scalar("SELECT COUNT(*) FROM contact WHERE ref LIKE 'message:%'") == sent


def test_contact_history_tab_shows_calls_visits_and_messages(demo_app):
    client = _client(demo_app, "store1@example.com")
    cid = scalar("SELECT k.customer_id FROM contact k JOIN customer c ON c.id = k.customer_id "
                 "JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' AND k.source = 'staff' "
                 "ORDER BY k.customer_id LIMIT 1")
    html = client.get(f"/customers/{cid}?tab=contacts").get_data(as_text=True)
    assert 'data-testid="contact-timeline"' in html and 'data-testid="timeline-empty"' not in html
    assert 'data-kind="contact"' in html
    assert scalar("SELECT COUNT(DISTINCT customer_id) FROM contact WHERE source = 'staff'") >= 100
    assert scalar("SELECT COUNT(*) FROM contact WHERE outcome = 'visited'") > 0
    assert scalar("SELECT COUNT(*) FROM contact WHERE source = 'extraction'") > 0  # the used target list
    assert scalar("SELECT COUNT(*) FROM extraction WHERE status = 'used'") == 1
    # Spread over the last months, not all today.
    days = {str(d)[:10] for (d,) in sql("SELECT DISTINCT at FROM contact WHERE source = 'staff'")}
    assert len(days) > 30


@pytest.mark.parametrize("email", ["hq@example.com", "store1@example.com", "leader1@example.com"])
def test_inbox_has_read_and_unread_notices_whose_links_open(demo_app, email):
    client = _client(demo_app, email)
    html = client.get("/inbox").get_data(as_text=True)
    assert 'data-testid="notifications"' in html
    uid = scalar("SELECT id FROM user_account WHERE email = :e", e=email)
    rows = sql("SELECT url, read_at FROM notification WHERE user_id = :u AND dedupe_key LIKE 'demo:%'", u=uid)
    assert len(rows) >= 3
    assert any(r is None for _u, r in rows) and any(r is not None for _u, r in rows)
    for url, _read in rows:
        if url:  # every link leads to a page the recipient may open
            assert client.get(url).status_code == 200, url


def test_my_tasks_lists_the_pending_approvals_for_hq(demo_app):
    html = _client(demo_app, "hq@example.com").get("/tasks").get_data(as_text=True)
    assert len(re.findall(r'data-testid="task-row" data-type="loyalty\.', html)) >= 3  # the add-on's one + two
    # The requester does not approve their own requests.
    mine = _client(demo_app, "store1@example.com").get("/tasks").get_data(as_text=True)
    assert 'data-testid="task-row" data-type="loyalty.' not in mine


def test_experiments_show_a_frozen_result_with_numbers(demo_app):
    client = _client(demo_app, "hq@example.com")
    html = client.get("/experiments/").get_data(as_text=True)
    assert 'data-testid="experiment-list"' in html and "campaign:autumn-" in html and "campaign:winter-" in html
    exp_id = scalar("SELECT id FROM experiment WHERE status = 'frozen'")
    detail = client.get(f"/experiments/{exp_id}").get_data(as_text=True)
    assert 'data-testid="experiment-result"' in detail and 'data-testid="result-frozen"' in detail
    assert re.search(r'data-testid="result-lift">\s*[−+-]?\d', detail)
    counts = scalar("SELECT drawn_counts FROM experiment WHERE id = :i", i=exp_id)
    assert '"holdout"' in str(counts) or "holdout" in str(counts)


LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def test_demo_texts_are_korean(demo_app):
    texts = [r[0] for r in sql("SELECT text FROM notification WHERE dedupe_key LIKE 'demo:%'")]
    texts += [r[0] for r in sql("SELECT DISTINCT note FROM contact WHERE note IS NOT NULL")]
    texts += [r[0] for r in sql("SELECT DISTINCT subject FROM message WHERE source = 'demo'")]
    texts += [r[0] for r in sql("SELECT reason FROM loy_approval")]
    assert texts and not [t for t in texts if LATIN_WORD.search(t or "")]


def _platform_rows(template_db, **config) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The platform part loaded on a copy of the suite's seeded database (which has none)."""
    from portal.demo.loader import demo_end
    from portal.demo.platform import load_platform_demo

    url, drop = template_db.clone()
    app = make_app(url, **config)
    try:
        with app.app_context():
            assert scalar("SELECT COUNT(*) FROM message") == 0
            load_platform_demo(demo_end(), echo=lambda _m: None)
            contacts = [tuple(map(str, r)) for r in sql(
                "SELECT customer_id, channel, purpose, outcome, at, actor_id, note FROM contact WHERE source = 'staff' "
                "ORDER BY id")]  # a used list's and a sent message's contacts are recorded at the time of loading
            messages = sql("SELECT customer_id, purpose, source_object, status, status_reason FROM message ORDER BY id")
            arms = sql("SELECT experiment_id, customer_id, arm FROM experiment_assignment "
                       "ORDER BY experiment_id, customer_id")
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
    return contacts, [tuple(r) for r in messages], [tuple(r) for r in arms]


def test_platform_demo_is_deterministic_and_sends_nothing_through_a_real_relay(template_db):
    first, again = _platform_rows(template_db), _platform_rows(template_db)
    assert first == again and all(first)
    # With an SMTP relay configured nothing is queued for the fictitious customers' addresses.
    contacts, messages, _arms = _platform_rows(template_db, PORTAL_SMTP_URL="smtp://127.0.0.1:1")
    assert contacts and messages == []
