"""Korean advertising law (정보통신망법 제50조, 시행령 제61·62조 and 별표 6) as pure functions.

No database, no Flask: everything here takes plain values and returns plain values, so the rules are
tested by tables (``tests/platform/test_adlaw_law.py``) and every service (messaging at queue time,
contact at send time, add-ons in previews) applies the *same* rule. ``docs/platform/adlaw.md`` lists
each rule with its legal source and the points counsel still has to confirm.

Times: the server clock is UTC. Aware datetimes are converted; a naive datetime is taken as UTC
(that is how the portal stores them, see ``portal.models.base.utcnow``). Every legal decision is
made in Korean time (Asia/Seoul, UTC+9, no daylight saving).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from ..bounds import KST, kst_date, to_kst  # noqa: F401  (law.KST / law.to_kst / law.kst_date: public here too)

#: The label an advertisement must start with (정보통신망법 제50조 제4항, 시행령 별표 6).
AD_PREFIX = "(광고)"

#: Channels where the night rule does NOT apply: postal mail is not an electronic medium at all;
#: e-mail is exempted by the decree unless the operator opts in (``email_included``).
NIGHT_EXEMPT_CHANNELS = frozenset({"dm"})

#: Default night window of 제50조 제3항: 21:00 (inclusive) to 08:00 (exclusive) KST.
#: Provider rules (Kakao 친구톡 20:00–08:00) are passed in as ``night_window``, never hard-coded here.
NIGHT_WINDOW: tuple[time, time] = (time(21, 0), time(8, 0))

#: Default SMS / LMS budgets in CP949 bytes (carriers differ: KT allows 140 — keep it configurable).
SMS_LIMIT = 90
LMS_LIMIT = 2000

#: Re-confirmation notice lead time before each 2-year mark (제50조 제8항, 시행령 제62조의3).
RECONFIRMATION_LEAD_DAYS = 30
#: Consent validity in days; the core's ``PORTAL_CONSENT_VALID_DAYS`` uses the same default.
CONSENT_VALID_DAYS = 730
#: Processing-result notice after an opt-out or opt-in change (제50조 제7항, 시행령 제62조의2).
OPTOUT_NOTICE_DAYS = 14

# Opening brackets someone may use instead of "(" — ASCII, full-width and CJK ones.
_OPENERS = "([{<（［｛【〔「『〈《"
_CLOSERS = ")]}>）］｝】〕」』〉》"
# A label-like head: an opening bracket, up to ten characters holding 광 … 고, a closing bracket.
_BRACKETED_HEAD = re.compile(rf"^[{re.escape(_OPENERS)}]([^{re.escape(_CLOSERS)}]{{0,10}})[{re.escape(_CLOSERS)}]")
_PHONE_080 = re.compile(r"^080(\d{3,4})(\d{4})$")


class LawViolation(ValueError):
    """A message that cannot be sent lawfully; ``reasons`` holds machine-readable codes.

    Codes: ``missing``, ``malformed``, ``not_at_start`` (the "(광고)" label), ``empty_body``,
    ``subject_missing``, ``sender_missing``, ``contact_missing``, ``optout_missing``,
    ``optout_not_080``, ``unsubscribe_missing``, ``unsubscribe_invalid``, ``not_cp949``,
    ``too_long``.
    """

    def __init__(self, reasons: list[str], detail: str | None = None) -> None:
        self.reasons = list(reasons)
        self.detail = detail
        super().__init__(", ".join(self.reasons) + (f": {detail}" if detail else ""))


@dataclass(frozen=True)
class Composed:
    """A marketing message made lawful: what to send, plus e-mail headers.

    ``sms_class`` ("sms" / "lms") and ``size`` (CP949 bytes) are set for the ``sms`` channel only.
    """

    subject: str | None
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None
    sms_class: str | None = None
    size: int | None = None


# --- the "(광고)" label -------------------------------------------------------------------------

def _squash(text: str) -> str:
    """Letters only (NFKC-normalised, so full-width forms compare equal): "( 광.고 )" → "광고"."""
    norm = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in norm if ch.isalnum())


def check_ad_prefix(text: str) -> str | None:
    """None when ``text`` starts exactly with "(광고)"; else why not.

    ``malformed``: the text opens with something label-like that is not the exact label —
    ``[광고]``, ``(광 고)``, ``(광.고)``, ``( 광고)``, ``(광고 )``, ``（광고）``, ``(대출광고)``, a bare
    ``광고``; vendors and KISA treat these as evasion. ``not_at_start``: the exact label is there,
    but after leading whitespace or in the middle. ``missing``: no label at all.
    """
    if not isinstance(text, str):
        return "missing"
    if text.startswith(AD_PREFIX):
        return None
    stripped = text.lstrip()
    if stripped.startswith(AD_PREFIX):
        return "not_at_start"
    head = unicodedata.normalize("NFKC", stripped[:16])
    bracketed = _BRACKETED_HEAD.match(head)
    if bracketed and "광고" in _squash(bracketed.group(1)):
        return "malformed"
    if _squash(stripped[:8]).startswith("광고"):
        return "malformed"
    if AD_PREFIX in text:
        return "not_at_start"
    return "missing"


def contains_ad_label(text: str) -> bool:
    """True when a text carries an ad label anywhere — a service message doing so is suspicious."""
    return bool(text) and (AD_PREFIX in text or check_ad_prefix(text) == "malformed")


# --- night rule ---------------------------------------------------------------------------------

def night_rule_applies(channel: str, *, email_included: bool = False) -> bool:
    """Whether 제50조 제3항 (separate consent for ads at night) covers ``channel``.

    Every electronic medium is covered — SMS, KakaoTalk, push, phone and any channel an add-on
    registers — except postal DM; e-mail only when ``email_included`` (the decree's exemption,
    marked [verify] in the docs).
    """
    if channel == "email":
        return email_included
    return channel not in NIGHT_EXEMPT_CHANNELS


def in_night_window(at: datetime, night_window: tuple[time, time] = NIGHT_WINDOW) -> bool:
    """Whether ``at`` (any timezone; naive = UTC) falls in ``[start, end)`` Korean time."""
    start, end = night_window
    t = to_kst(at).time()
    if start <= end:
        return start <= t < end
    return t >= start or t < end


def night_deferral(at: datetime, channel: str, *, night_consent: bool, email_included: bool = False,
                   night_window: tuple[time, time] = NIGHT_WINDOW) -> datetime | None:
    """When a marketing message on ``channel`` at ``at`` must wait until, or None to send now.

    Returns the aware UTC datetime of the window's end (08:00 KST by default) — the same morning
    when ``at`` is after midnight, the next morning when it is in the evening — so the message is
    deferred, never dropped. None outside the window, with the separate night consent, or on a
    channel the rule does not cover (see :func:`night_rule_applies`).
    """
    if night_consent or not night_rule_applies(channel, email_included=email_included):
        return None
    if not in_night_window(at, night_window):
        return None
    start, end = night_window
    local = to_kst(at)
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=KST).astimezone(UTC)


# --- CP949 byte budget --------------------------------------------------------------------------

def non_cp949_chars(text: str) -> list[str]:
    """The distinct characters of ``text`` that CP949 cannot encode (emoji, rare Hanja ...)."""
    bad: list[str] = []
    for ch in text:
        if ch not in bad:
            try:
                ch.encode("cp949")
            except UnicodeEncodeError:
                bad.append(ch)
    return bad


def cp949_len(text: str) -> int:
    """Bytes ``text`` takes on a Korean SMS/LMS: Hangul and other double-byte 2, ASCII 1.

    A character outside CP949 (an emoji, say) raises ``LawViolation(["not_cp949"])`` instead of
    being counted: carriers replace it with "?" or drop the message, so the recipient would not
    get what was approved. Push and KakaoTalk take Unicode and do not use this budget.
    """
    try:
        return len(text.encode("cp949"))
    except UnicodeEncodeError:
        raise LawViolation(["not_cp949"], "".join(non_cp949_chars(text))) from None


def sms_class(text: str, *, sms_limit: int = SMS_LIMIT, lms_limit: int = LMS_LIMIT) -> str | None:
    """"sms" up to ``sms_limit`` bytes, "lms" up to ``lms_limit``, None when too long.

    Count the *whole* text as sent (legal wrapper included). Raises ``LawViolation`` for
    characters outside CP949 (see :func:`cp949_len`).
    """
    size = cp949_len(text)
    if size <= sms_limit:
        return "sms"
    if size <= lms_limit:
        return "lms"
    return None


# --- composing ----------------------------------------------------------------------------------

def format_080(number: str | None) -> str | None:
    """A free 080 opt-out number as "080-123-4567" / "080-1234-5678", or None when it is not one."""
    if not number:
        return None
    parts = [p for p in re.split(r"[\s\-.]+", number.strip()) if p]
    if len(parts) > 1 and not (len(parts) == 3 and parts[0] == "080" and re.fullmatch(r"\d{3,4}", parts[1])
                               and re.fullmatch(r"\d{4}", parts[2])):
        return None  # grouped, but not as 080-XXX(X)-XXXX
    m = _PHONE_080.match("".join(parts))
    return f"080-{m.group(1)}-{m.group(2)}" if m else None


def _valid_url(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and bool(parts.netloc) and not any(c in url for c in "<>\r\n ")


def _label_body(text: str, reasons: list[str]) -> str:
    """``text`` without its exact leading label (compose adds it back); malformed labels refused."""
    problem = check_ad_prefix(text)
    if problem is None:
        return text[len(AD_PREFIX):].lstrip()
    if problem == "malformed":
        reasons.append("malformed")
    elif problem == "not_at_start" and text.lstrip().startswith(AD_PREFIX):
        return text.lstrip()[len(AD_PREFIX):].lstrip()
    return text


def compose_marketing(channel: str, *, subject: str | None, body: str, sender_name: str, sender_contact: str,
                      optout_number: str | None = None, unsubscribe_url: str | None = None,
                      unsubscribe_post_url: str | None = None, unsubscribe_mailto: str | None = None,
                      sender_address: str | None = None, html: str | None = None,
                      contact_in_text: bool | None = None, sms_limit: int = SMS_LIMIT,
                      lms_limit: int = LMS_LIMIT) -> Composed:
    """Wrap a marketing message the way the law requires, or raise ``LawViolation``.

    * "(광고)" first — in the e-mail subject, at the start of the text elsewhere; added when absent,
      kept when exact, refused when malformed (``[광고]`` ...).
    * Sender name (after the label) and contact (e-mail footer; other text channels too, except SMS,
      whose registered caller number is the contact — ``contact_in_text`` overrides).
    * A free opt-out: "무료수신거부 080-…" for SMS, KakaoTalk, push and any other text channel
      (postal DM may use the unsubscribe link instead); for e-mail an unsubscribe link in the body
      plus the RFC 8058 headers ``List-Unsubscribe`` (https, and mailto when given) and
      ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``.
    * SMS: the whole text within ``lms_limit`` CP949 bytes (``sms_class`` says SMS or LMS).

    Every problem found is reported at once in ``LawViolation.reasons``.
    """
    reasons: list[str] = []
    sender_name = (sender_name or "").strip()
    sender_contact = (sender_contact or "").strip()
    if not sender_name:
        reasons.append("sender_missing")
    if not sender_contact:
        reasons.append("contact_missing")
    if not body or not body.strip():
        reasons.append("empty_body")

    if channel == "email":
        return _compose_email(subject=subject, body=body or "", sender_name=sender_name,
                              sender_contact=sender_contact, sender_address=sender_address,
                              unsubscribe_url=unsubscribe_url, unsubscribe_post_url=unsubscribe_post_url,
                              unsubscribe_mailto=unsubscribe_mailto, html=html, reasons=reasons)

    optout = format_080(optout_number)
    if optout is None:
        if channel == "dm" and _valid_url(unsubscribe_url):
            pass
        else:
            reasons.append("optout_missing" if not optout_number else "optout_not_080")
    text = _label_body((body or "").strip(), reasons)
    if not text and "empty_body" not in reasons:
        reasons.append("empty_body")
    if reasons:
        raise LawViolation(reasons)
    show_contact = contact_in_text if contact_in_text is not None else channel != "sms"
    if text.startswith(sender_name):  # the template already names the sender after the label
        text = text[len(sender_name):].lstrip()
    lines = [f"{AD_PREFIX}{sender_name} {text}"]
    if show_contact:
        lines.append(f"문의 {sender_contact}")
    if channel == "dm" and sender_address:
        lines.append(sender_address.strip())
    lines.append(f"무료수신거부 {optout}" if optout else f"수신거부 {unsubscribe_url}")
    full = "\n".join(lines)
    kind = size = None
    if channel == "sms":
        size = cp949_len(full)
        kind = sms_class(full, sms_limit=sms_limit, lms_limit=lms_limit)
        if kind is None:
            raise LawViolation(["too_long"], f"{size} > {lms_limit} bytes")
    return Composed(subject=subject, body=full, headers={}, sms_class=kind, size=size)


def _html_footer(lines: list[str], url: str) -> str:
    from html import escape

    text = "<br>".join(escape(line) for line in lines)
    return (f'<hr><p style="font-size:12px;color:#555">{text}<br>'
            f'<a href="{escape(url, quote=True)}">수신거부 (Unsubscribe)</a></p>')


def _compose_email(*, subject: str | None, body: str, sender_name: str, sender_contact: str,
                   sender_address: str | None, unsubscribe_url: str | None, unsubscribe_post_url: str | None,
                   unsubscribe_mailto: str | None, html: str | None, reasons: list[str]) -> Composed:
    if not subject or not subject.strip():
        reasons.append("subject_missing")
        subject_text = ""
    else:
        subject_text = _label_body(subject.strip(), reasons)
        if not subject_text and "malformed" not in reasons:
            reasons.append("subject_missing")  # "(광고)" alone says nothing about the message
    if not unsubscribe_url:
        reasons.append("unsubscribe_missing")
    elif not _valid_url(unsubscribe_url) or (unsubscribe_post_url and not _valid_url(unsubscribe_post_url)):
        reasons.append("unsubscribe_invalid")
    if unsubscribe_mailto and (not unsubscribe_mailto.startswith("mailto:") or any(c in unsubscribe_mailto for c in "<>\r\n ")):
        reasons.append("unsubscribe_invalid")
    if reasons:
        raise LawViolation(reasons)
    assert unsubscribe_url is not None
    footer = [f"보낸 사람: {sender_name}", f"연락처: {sender_contact}"]
    if sender_address and sender_address.strip():
        footer.append(f"주소: {sender_address.strip()}")
    footer.append("본 메일은 광고성 정보 수신에 동의하신 분께 발송되었습니다.")
    text_footer = footer + [f"수신을 원하지 않으시면 무료로 수신거부하실 수 있습니다: {unsubscribe_url}"]
    full_body = body.rstrip() + "\n\n--\n" + "\n".join(text_footer) + "\n"
    links = [f"<{unsubscribe_post_url or unsubscribe_url}>"]
    if unsubscribe_mailto:
        links.append(f"<{unsubscribe_mailto}>")
    headers = {"List-Unsubscribe": ", ".join(links), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    full_html = None
    if html is not None:
        snippet = _html_footer(footer, unsubscribe_url)
        idx = html.lower().rfind("</body>")
        full_html = html[:idx] + snippet + html[idx:] if idx >= 0 else html + snippet
    return Composed(subject=f"{AD_PREFIX}{subject_text}", body=full_body, headers=headers, html=full_html)


# --- notice dates -------------------------------------------------------------------------------

def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February → 28 February
        return d.replace(year=d.year + years, day=28)


def reconfirmation_deadline(granted_at: datetime | date, *, valid_days: int = CONSENT_VALID_DAYS) -> date:
    """The 2-year mark of a consent (or of its last re-confirmation notice), Korean date.

    The calendar anniversary, but never later than ``valid_days`` after the grant — the core lets
    consent lapse after 730 days, so the notice must come before that even across a leap day.
    """
    start = kst_date(granted_at)
    return min(_add_years(start, 2), start + timedelta(days=valid_days))


def reconfirmation_notice_date(granted_at: datetime | date, *, lead_days: int = RECONFIRMATION_LEAD_DAYS,
                               valid_days: int = CONSENT_VALID_DAYS) -> date:
    """The first day the re-confirmation notice is due (``lead_days`` before the 2-year mark)."""
    return reconfirmation_deadline(granted_at, valid_days=valid_days) - timedelta(days=lead_days)


def reconfirmation_due(granted_at: datetime | date, today: date, *, lead_days: int = RECONFIRMATION_LEAD_DAYS,
                       valid_days: int = CONSENT_VALID_DAYS) -> bool:
    """Whether the notice is due on ``today`` (Korean date): from ``lead_days`` before the mark until
    the day before it. After the mark the consent has lapsed — a late notice must not revive it."""
    deadline = reconfirmation_deadline(granted_at, valid_days=valid_days)
    return deadline - timedelta(days=lead_days) <= today < deadline


def optout_notice_deadline(opted_out_at: datetime | date, *, days: int = OPTOUT_NOTICE_DAYS) -> date:
    """Last Korean date by which the opt-out processing-result notice must be sent (14 days)."""
    return kst_date(opted_out_at) + timedelta(days=days)


def optout_notice_due(opted_out_at: datetime | date, today: date, *, days: int = OPTOUT_NOTICE_DAYS) -> bool:
    """Whether a result notice may still go out on ``today`` (from the opt-out day to the deadline)."""
    return kst_date(opted_out_at) <= today <= optout_notice_deadline(opted_out_at, days=days)
