"""``cem_preview_message_set``: another add-on (prm_groups' leader approval page) previews a
message set given as data, exactly as cem_channels would send it, without storing anything.

The same steps as the composer's preview: the master normalised, every rendition rendered for the
sample customer (``render_rendition``), the ad-law wrapper composed for marketing ("(광고)", the
company as sender, contact, opt-out footer), plus the lint and the category's banned terms, so the
leader approves the text the customers will read and sees what would block it."""

from __future__ import annotations

from collections.abc import Mapping
from email.header import decode_header, make_header
from types import SimpleNamespace
from typing import Any

from flask import current_app

from portal.toolkit import mail_from

from .banned import check_banned
from .lint import lint_renditions
from .problems import Problem
from .service import CHANNELS, banned_terms_for, normalise_master, preview

FIELDS = ("subject", "body", "html")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _from_header() -> str:
    """The From header as people read it ("파트너포털 <no-reply@…>", not RFC 2047 words)."""
    return str(make_header(decode_header(mail_from(current_app.config))))


def _problem(p: Problem) -> dict[str, Any]:
    """A problem with its field path in the data (``renditions.email.subject``, ``master.price``)."""
    if p.rendition == "master":
        path = f"master.{p.field}" if p.field else "master"
    elif p.rendition:
        path = f"renditions.{p.rendition}" + (f".{p.field}" if p.field else "")
    else:
        path = "renditions"
    return {**p.as_dict(), "path": path}


def preview_message_set(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per channel of ``data["renditions"]`` (in cem's channel order): ``channel``,
    ``subject``/``body``/``html`` rendered for the sample customer, ``composed_subject``/
    ``composed_body``/``composed_html`` after the ad-law wrapper (marketing unless
    ``data["marketing"]`` is False), ``sender`` (e-mail: the From header; otherwise the legal
    sender's name), ``sms_class``/``size`` for SMS and ``problems`` (render, law, lint, banned
    terms) each with a ``path``. Unknown channels and non-text fields are ignored; a master problem
    is reported on every channel. Writes nothing; needs an app context."""
    data = data if isinstance(data, Mapping) else {}
    master, master_problems = normalise_master(data.get("master") if isinstance(data.get("master"), Mapping) else {})
    raw = data.get("renditions") if isinstance(data.get("renditions"), Mapping) else {}
    renditions = [{"channel": ch, **{f: _text(r.get(f)) for f in FIELDS}}
                  for ch, r in raw.items() if ch in CHANNELS and isinstance(r, Mapping)]
    category = data.get("category") if isinstance(data.get("category"), str) else None
    findings = lint_renditions(renditions, master) + check_banned(renditions, master, category,
                                                                  banned_terms_for(category))
    message_set = SimpleNamespace(master=master, renditions=[SimpleNamespace(**r) for r in renditions])
    rendered = preview(message_set, marketing=data.get("marketing", True) is not False)
    company = str(current_app.config.get("PORTAL_SENDER_NAME") or "")
    out = []
    for r in rendered:
        problems = master_problems + r.problems + [p for p in findings if p.rendition == r.channel]
        out.append({
            "channel": r.channel, "subject": r.subject, "body": r.body, "html": r.html,
            "composed_subject": r.composed_subject, "composed_body": r.composed_body,
            "composed_html": r.composed_html, "sms_class": r.sms_class, "size": r.size,
            "sender": _from_header() if r.channel == "email" else company,
            "problems": [_problem(p) for p in problems],
        })
    return out
