"""Demo data only: a scheduled campaign sent as if it had gone out at ``at`` in the past.

The cem demo's finished campaign and other add-ons' demo programmes (through the hook
``cem_demo_send_in_the_past``) use it, so a demo campaign is launched by the real launch, its
messages leave through the real dispatcher into the local outbox, and only then are the services'
"now" timestamps moved to where the send happened (the core's ``demo_backdate_*``) and a share of
the e-mails marked opened and clicked, as the tracking pixel and the signed redirect would have.
Never used outside a demo seed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, insert, literal, select

from portal.toolkit import (
    Message,
    User,
    db,
    demo_backdate_history,
    demo_backdate_messages,
    dispatch,
    dm_mark_mailed,
    dm_take_print_file,
    postpone_expiry,
    utcnow,
)

from ..campaign_models import CemCampaign, CemMessageEvent
from .workflow import TYPE_NAME

#: Shares (per mille) of the sent e-mails opened and clicked in the demo.
OPENS, CLICKS = 340, 95


def send_in_the_past(campaign: CemCampaign, at: datetime, *, click_url: str = "https://example.com/seminar",
                     contacts_after: datetime | None = None) -> bool:
    """Launch the scheduled ``campaign`` at ``at`` (naive UTC, in the past), dispatch its messages,
    put the send at ``at`` + 3 minutes, record opens and clicks, finish it and date its workflow
    history. Commits. False when the launch did not start sending (nothing eligible)."""
    from . import launch, steps

    campaign.start_at = at
    db.session.flush()
    result = launch.launch(campaign, now=at)
    db.session.commit()
    if result.get("state") != "sending":
        return False
    source_object = campaign.source_object
    postpone_expiry("cem_channels", source_object, seconds=int((utcnow() - at).total_seconds()) + 86400)
    db.session.commit()
    for channel in sorted({s.channel for s in campaign.steps}):
        if channel == "dm":
            _print_and_mail(campaign, at)
            continue
        for _ in range(50):
            if not dispatch(limit=2000, channel=channel).get("claimed"):
                break
    sent_at = at + timedelta(minutes=3)
    demo_backdate_messages("cem_channels", source_object, created_at=at, sent_at=sent_at,
                           contacts_after=contacts_after or at + timedelta(days=30))
    _opens_and_clicks(campaign, sent_at, click_url)
    db.session.commit()
    campaign = db.session.get(CemCampaign, campaign.id)
    steps.finish_if_done(campaign, now=sent_at + timedelta(minutes=10))
    demo_backdate_history(TYPE_NAME, campaign.id, {"start": at, "finish": at}, default=at - timedelta(days=2))
    db.session.commit()
    return True


def _print_and_mail(campaign: CemCampaign, at: datetime) -> int:
    """Postal DM: the campaign's creator takes the print file and marks it mailed on the send day."""
    user = db.session.get(User, campaign.created_by_id) if campaign.created_by_id else None
    if user is None:
        return 0
    token, rows = dm_take_print_file(user)
    db.session.commit()
    if not rows:
        return 0
    return dm_mark_mailed(user, token, (at + timedelta(hours=9)).date())


def _opens_and_clicks(campaign: CemCampaign, sent_at: datetime, click_url: str) -> None:
    """About a third of the e-mails opened, one in ten clicked, in one INSERT … SELECT each."""
    for kind, per_mille, url in (("open", OPENS, None), ("click", CLICKS, click_url)):
        db.session.execute(insert(CemMessageEvent).from_select(
            ["message_id", "campaign_id", "customer_id", "kind", "url", "at"],
            select(Message.id, literal(campaign.id), Message.customer_id, literal(kind),
                   literal(url, String), literal(sent_at + timedelta(hours=2)))
            .where(Message.source == "cem_channels", Message.source_object == campaign.source_object,
                   Message.channel == "email", Message.status == "sent",
                   (Message.id * 7907 + len(kind)) % 1000 < per_mille)))


def send_ref_in_the_past(ref: int | str, at: datetime) -> bool:
    """The hook's body: campaign ``ref`` (its id, or its ``origin``: the newest with it) sent at
    ``at``; False for an unknown or unscheduled one."""
    if isinstance(ref, str):
        campaign = db.session.execute(select(CemCampaign).where(CemCampaign.origin == ref)
                                      .order_by(CemCampaign.id.desc()).limit(1)).scalar_one_or_none()
    else:
        campaign = db.session.get(CemCampaign, ref) if isinstance(ref, int) else None
    if campaign is None or campaign.state != "scheduled":
        return False
    return send_in_the_past(campaign, at)
