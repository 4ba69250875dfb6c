"""Tracking is added at send time (``portal_message_personalize``), like the unsubscribe link: the
queued row keeps one HTML per step and variant; the copy handed to SMTP carries this message's
pixel and click links; other sources' e-mails are left alone."""

from __future__ import annotations

from tests.plugins.cem_channels import results_fixtures as rf

HTML = '<html><body><a href="https://shop.example.com/offer">쇼핑</a></body></html>'


def _copy(mid: int):
    from portal.extensions import db
    from portal.toolkit import Message

    m = db.session.get(Message, mid)
    db.session.expunge(m)  # the dispatcher's detached copy
    return m


def test_campaign_email_gets_its_pixel_and_links_when_sent_not_when_queued(app):
    from portal.extensions import db
    from portal.messaging.service import personalize
    from portal.toolkit import Message, queue_message

    with app.app_context():
        cid = rf.customers(1)[0]
        campaign = rf.make_campaign()
        [mid] = rf.queue(campaign, [cid], html=HTML)
        other = queue_message(channel="email", purpose="service", customer_id=cid, subject="안내", body="안내",
                              html=HTML, idempotency_key="core:notice:1", source="core").id
        db.session.commit()
        assert "/c/o/" not in db.session.get(Message, mid).html  # stored as composed: one text for all

        sent = personalize(_copy(mid))
        assert "/c/o/" in sent.html and "/c/c/" in sent.html and "https://shop.example.com/offer\"" not in sent.html
        db.session.expire_all()
        assert db.session.get(Message, mid).html.count("/c/o/") == 0  # nothing stored

        untouched = personalize(_copy(other))
        assert "/c/o/" not in untouched.html and "https://shop.example.com/offer" in untouched.html
