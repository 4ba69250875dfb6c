"""Clean a campaign draft's input into column values, steps and variants — or refuse it whole.

Every problem is reported at once, keyed by the field's path (``name``, ``steps[1].channel``,
``variants[0].message_set_id``, ``rules.all[0].value``), so a form or an API client can show each
next to its input; nothing is written while any remains. What the law says about the message
sets' texts (ad label, banned terms) is checked at submit and approve, not here: a draft may be
saved half-finished, an unlawful text never approved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from portal.toolkit import (
    RuleError,
    Segment,
    db,
    has_global_permission,
    segment_query,
)

from ..campaign_models import (
    CONDITIONS,
    PURPOSES,
    STEP_CHANNELS,
    VARIANT_CODES,
    WINNER_FALLBACKS,
    WINNER_METRICS,
    CemCampaign,
)
from ..models import KakaoTemplate
from ..voice_models import CemMessageSet
from . import CampaignError

KST = ZoneInfo("Asia/Seoul")

#: The writable fields of a campaign (anything else is refused: no mass assignment).
FIELDS = ("name", "purpose", "segment_id", "rules", "start_at", "max_lateness_minutes", "holdout_share",
          "use_global_control", "attribution_days", "steps", "variants", "ab_test_share", "ab_winner_metric",
          "ab_wait_hours", "ab_fallback", "cap_per_day", "cap_per_7_days", "dedupe_by_address")
STEP_FIELDS = ("channel", "message_set_id", "delay_hours", "condition", "fallback_channel", "kakao_template")
VARIANT_FIELDS = ("code", "message_set_id", "is_default")
#: Steps whose channel sends no text of its own: a phone call needs no rendition.
NO_RENDITION = ("phone",)
MAX_STEPS, MAX_VARIANTS = 5, 5
MAX_INT = 2**31 - 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # noqa: PLR0124 (NaN)


def _int_in(errors: dict[str, str], key: str, value: Any, low: int, high: int) -> int | None:
    if not _is_int(value) or not low <= value <= high:
        errors[key] = _("A whole number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return value


def _share(errors: dict[str, str], key: str, value: Any, low: float, high: float) -> float | None:
    if not _is_number(value) or not low <= value <= high:
        errors[key] = _("A share from %(low)s to %(high)s (0.1 = 10 %%).", low=low, high=high)
        return None
    return float(value)


def _bool(errors: dict[str, str], key: str, value: Any) -> bool | None:
    if not isinstance(value, bool):
        errors[key] = _("true or false.")
        return None
    return value


def _id(value: Any) -> int | None:
    if _is_int(value) and 0 < value <= MAX_INT:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < int(value) <= MAX_INT:
        return int(value)
    return None


def parse_start(value: Any) -> datetime | None:
    """ISO 8601 text (a naive time is KST) → naive UTC; None when it is not one."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and 10 <= len(value.strip()) <= 40:
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # year 1 or 9999 shifted past the calendar's end
        return None


def usable_message_sets(actor: Any) -> Any:
    """SQL condition: the message sets ``actor`` may put in a campaign — those the one-voice pages
    show them (``voice.store.visible_condition``: their place's and HQ's shared sets)."""
    from ..voice.store import visible_condition

    return visible_condition(actor)


def _segment_visible(actor: Any, segment_id: int) -> Segment | None:
    """The segment if ``actor`` may open it (the toolkit's ``segment_or_404`` rule, without the abort)."""
    stmt = db.select(Segment).where(Segment.id == segment_id)
    if not has_global_permission(actor, "segment.manage"):
        stmt = stmt.where(Segment.created_by_id == actor.id)
    return db.session.execute(stmt).scalar_one_or_none()


def _rules(errors: dict[str, str], actor: Any, rules: Any) -> None:
    try:
        segment_query(actor, rules)
    except RuleError as exc:
        for path, message in exc.fields().items():
            errors[f"rules.{path}" if path else "rules"] = message


def campaign_input(campaign: CemCampaign) -> dict[str, Any]:
    """A stored campaign as input (the base a partial edit is laid over)."""
    return {
        "name": campaign.name, "purpose": campaign.purpose, "segment_id": campaign.segment_id,
        "rules": campaign.rules,
        "start_at": campaign.start_at.replace(tzinfo=UTC).isoformat() if campaign.start_at else None,
        "max_lateness_minutes": campaign.max_lateness_minutes, "holdout_share": campaign.holdout_share,
        "use_global_control": campaign.use_global_control, "attribution_days": campaign.attribution_days,
        "steps": [{"channel": s.channel, "message_set_id": s.message_set_id, "delay_hours": s.delay_hours,
                   "condition": s.condition, "fallback_channel": s.fallback_channel,
                   "kakao_template": s.kakao_template} for s in campaign.steps],
        "variants": [{"code": v.code, "message_set_id": v.message_set_id, "is_default": v.is_default}
                     for v in campaign.variants],
        "ab_test_share": campaign.ab_test_share, "ab_winner_metric": campaign.ab_winner_metric,
        "ab_wait_hours": campaign.ab_wait_hours, "ab_fallback": campaign.ab_fallback,
        "cap_per_day": campaign.cap_per_day, "cap_per_7_days": campaign.cap_per_7_days,
        "dedupe_by_address": campaign.dedupe_by_address,
    }


def clean(data: Any, *, actor: Any, existing: CemCampaign | None = None, allow_origin: bool = False) -> dict[str, Any]:
    """Column values plus ``steps`` and ``variants`` (lists of dicts) for a new draft or, with
    ``existing``, for an edit (fields not sent keep their stored values). Raises
    ``CampaignError({path: message}, 422)`` naming every bad field; reads, never writes."""
    if not isinstance(data, dict):
        raise CampaignError({"": _("Send a JSON object with the campaign's fields.")})
    allowed = FIELDS + (("origin",) if allow_origin else ())
    errors: dict[str, str] = {}
    for name in sorted(set(data) - set(allowed), key=str):
        errors[str(name)[:60]] = _("Unknown field; the writable fields are %(fields)s.", fields=", ".join(FIELDS))
    src = {**campaign_input(existing), **data} if existing is not None else dict(data)
    out: dict[str, Any] = {}

    name = src.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200 or "\x00" in name:
        errors["name"] = _("A name of 1 to 200 characters.")
    else:
        out["name"] = " ".join(name.split())
    purpose = src.get("purpose", "marketing")
    if purpose not in PURPOSES:
        errors["purpose"] = _("One of: %(choices)s.", choices=", ".join(PURPOSES))
        purpose = None
    out["purpose"] = purpose

    # audience: a saved segment XOR rules
    seg_raw, rules = src.get("segment_id"), src.get("rules")
    if seg_raw is not None and rules is not None:
        if existing is not None and "segment_id" in data and "rules" not in data:
            rules = None  # an edit that switches to a segment drops the stored rules
        elif existing is not None and "rules" in data and "segment_id" not in data:
            seg_raw = None
        else:
            errors["segment_id"] = _("Give either a saved segment or rules, not both.")
    if seg_raw is None and rules is None and "segment_id" not in errors:
        errors["rules"] = _("Choose the audience: a saved segment or rules.")
    out["segment_id"], out["rules"] = None, None
    if seg_raw is not None and "segment_id" not in errors:
        seg_id = _id(seg_raw)
        seg = _segment_visible(actor, seg_id) if seg_id else None
        if seg is None:
            errors["segment_id"] = _("No segment with this id that you may use.")
        else:
            out["segment_id"] = seg.id
            _rules(errors, actor, seg.rules)
    elif rules is not None and "segment_id" not in errors:
        _rules(errors, actor, rules)
        out["rules"] = rules

    # schedule and measurement
    start = src.get("start_at")
    out["start_at"] = None
    if start not in (None, ""):
        out["start_at"] = parse_start(start)
        if out["start_at"] is None:
            errors["start_at"] = _("A date and time in ISO 8601, e.g. 2026-06-12T10:00:00+09:00 (without offset: KST).")
    out["max_lateness_minutes"] = _int_in(errors, "max_lateness_minutes", src.get("max_lateness_minutes", 120), 5, 1440)
    out["holdout_share"] = _share(errors, "holdout_share", src.get("holdout_share", 0.0), 0.0, 0.5)
    out["use_global_control"] = _bool(errors, "use_global_control", src.get("use_global_control", True))
    out["attribution_days"] = _int_in(errors, "attribution_days", src.get("attribution_days", 14), 1, 90)
    for key in ("cap_per_day", "cap_per_7_days"):
        value = src.get(key)
        if value is not None and (not _is_int(value) or not 1 <= value <= 1000):
            errors[key] = _("A positive whole number (at most 1000), or empty for the default caps.")
        out[key] = value
    out["dedupe_by_address"] = _bool(errors, "dedupe_by_address", src.get("dedupe_by_address", True))

    usable = usable_message_sets(actor)
    steps = _steps(errors, src.get("steps"), purpose, usable)
    out["steps"] = steps
    first_channel = steps[0]["channel"] if steps and steps[0].get("channel") else None
    out.update(_variants(errors, src, first_channel, usable))
    if allow_origin and data.get("origin") is not None:
        origin = data["origin"]
        if not isinstance(origin, str) or not 1 <= len(origin) <= 120:
            errors["origin"] = _("Where the campaign came from, 1 to 120 characters.")
        out["origin"] = origin
    if errors:
        raise CampaignError(errors, 422)
    return out


def _message_sets(ids: set[int], usable: Any) -> dict[int, CemMessageSet]:
    if not ids:
        return {}
    rows = db.session.scalars(db.select(CemMessageSet).where(CemMessageSet.id.in_(sorted(ids)), usable))
    return {ms.id: ms for ms in rows}


def _rendition_channel(channel: str) -> str | None:
    return None if channel in NO_RENDITION else channel


def _steps(errors: dict[str, str], raw: Any, purpose: str | None, usable: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_STEPS:
        errors["steps"] = _("From 1 to %(n)s steps.", n=MAX_STEPS)
        return []
    wanted = {i for s in raw if isinstance(s, dict) for i in [_id(s.get("message_set_id"))] if i}
    sets = _message_sets(wanted, usable)
    templates = {code for (code,) in db.session.execute(
        db.select(KakaoTemplate.code).where(KakaoTemplate.approved_at.is_not(None)))}
    steps: list[dict[str, Any]] = []
    seen_email = False
    for i, s in enumerate(raw):
        at = f"steps[{i}]"
        if not isinstance(s, dict):
            errors[at] = _("Each step is an object with channel, message_set_id, delay_hours, condition.")
            steps.append({})
            continue
        for extra in sorted(set(s) - set(STEP_FIELDS), key=str):
            errors[f"{at}.{str(extra)[:40]}"] = _("Unknown field; a step has %(fields)s.", fields=", ".join(STEP_FIELDS))
        step: dict[str, Any] = {"position": i + 1}
        channel = s.get("channel")
        if channel not in STEP_CHANNELS:
            errors[f"{at}.channel"] = _("Unknown channel; use one of: %(channels)s.", channels=", ".join(STEP_CHANNELS))
            channel = None
        step["channel"] = channel
        ms_raw = s.get("message_set_id")
        ms_id = _id(ms_raw)
        if ms_raw is None and channel in NO_RENDITION:
            step["message_set_id"] = None
        elif ms_id is None or ms_id not in sets:
            errors[f"{at}.message_set_id"] = _("No message set with this id that you may use.")
            step["message_set_id"] = None
        else:
            step["message_set_id"] = ms_id
            needed = _rendition_channel(channel) if channel else None
            if needed and needed not in {r.channel for r in sets[ms_id].renditions}:
                errors[f"{at}.message_set_id"] = _("The message set has no %(channel)s rendition.", channel=needed)
        delay = s.get("delay_hours", 0)
        step["delay_hours"] = _int_in(errors, f"{at}.delay_hours", delay, 0, 720)
        if i == 0 and step["delay_hours"]:
            errors[f"{at}.delay_hours"] = _("The first step starts at the start time: delay 0.")
        condition = s.get("condition", "always")
        if condition not in CONDITIONS:
            errors[f"{at}.condition"] = _("One of: %(choices)s.", choices=", ".join(CONDITIONS))
        elif i == 0 and condition != "always":
            errors[f"{at}.condition"] = _("The first step goes to everyone: condition 'always'.")
        elif condition in ("not_opened", "not_clicked") and not seen_email:
            errors[f"{at}.condition"] = _("Opens and clicks are known only after an e-mail step.")
        step["condition"] = condition
        fallback = s.get("fallback_channel")
        if fallback is not None and (fallback not in STEP_CHANNELS or fallback == channel):
            errors[f"{at}.fallback_channel"] = _("Another channel of: %(channels)s, or empty.",
                                                 channels=", ".join(STEP_CHANNELS))
        elif fallback is not None and step.get("message_set_id") and fallback not in NO_RENDITION and \
                fallback not in {r.channel for r in sets[step["message_set_id"]].renditions}:
            errors[f"{at}.fallback_channel"] = _("The message set has no %(channel)s rendition.", channel=fallback)
        step["fallback_channel"] = fallback
        template = s.get("kakao_template")
        if template is not None and channel != "kakao":
            errors[f"{at}.kakao_template"] = _("Only a KakaoTalk step names a 알림톡 template.")
        elif channel == "kakao" and purpose == "service":
            if not isinstance(template, str) or template not in templates:
                errors[f"{at}.kakao_template"] = _("A service KakaoTalk message (알림톡) needs an approved template.")
        elif channel == "kakao" and purpose == "marketing" and template is not None:
            errors[f"{at}.kakao_template"] = _("An advertising KakaoTalk message is 친구톡: 알림톡 templates are for "
                                               "service messages only.")
        step["kakao_template"] = template if isinstance(template, str) else None
        seen_email = seen_email or channel == "email"
        steps.append(step)
    return steps


def _variants(errors: dict[str, str], src: dict[str, Any], first_channel: str | None, usable: Any) -> dict[str, Any]:
    raw = src.get("variants") or []
    out: dict[str, Any] = {"variants": [], "ab_test_share": None, "ab_winner_metric": None,
                           "ab_wait_hours": 48, "ab_fallback": "default"}
    if not isinstance(raw, list) or len(raw) == 1 or len(raw) > MAX_VARIANTS:
        errors["variants"] = _("None, or from 2 to %(n)s variants.", n=MAX_VARIANTS)
        return out
    if not raw:
        for key in ("ab_test_share", "ab_winner_metric"):
            if src.get(key) is not None:
                errors[key] = _("Only for an A/B test (with variants).")
        out["ab_wait_hours"] = _int_in(errors, "ab_wait_hours", src.get("ab_wait_hours", 48), 1, 336)
        if src.get("ab_fallback", "default") not in WINNER_FALLBACKS:
            errors["ab_fallback"] = _("One of: %(choices)s.", choices=", ".join(WINNER_FALLBACKS))
        else:
            out["ab_fallback"] = src.get("ab_fallback", "default")
        return out
    sets = _message_sets({i for v in raw if isinstance(v, dict) for i in [_id(v.get("message_set_id"))] if i}, usable)
    codes: list[str] = []
    defaults = 0
    for i, v in enumerate(raw):
        at = f"variants[{i}]"
        if not isinstance(v, dict):
            errors[at] = _("Each variant is an object with code, message_set_id, is_default.")
            continue
        for extra in sorted(set(v) - set(VARIANT_FIELDS), key=str):
            errors[f"{at}.{str(extra)[:40]}"] = _("Unknown field; a variant has %(fields)s.",
                                                  fields=", ".join(VARIANT_FIELDS))
        code = v.get("code")
        if code not in VARIANT_CODES or code in codes:
            errors[f"{at}.code"] = _("A letter A to E, each once.")
        else:
            codes.append(code)
        ms_id = _id(v.get("message_set_id"))
        if ms_id is None or ms_id not in sets:
            errors[f"{at}.message_set_id"] = _("No message set with this id that you may use.")
        elif first_channel and (needed := _rendition_channel(first_channel)) and \
                needed not in {r.channel for r in sets[ms_id].renditions}:
            errors[f"{at}.message_set_id"] = _("The message set has no %(channel)s rendition.", channel=needed)
        default = v.get("is_default", False)
        if not isinstance(default, bool):
            errors[f"{at}.is_default"] = _("true or false.")
        defaults += default is True
        out["variants"].append({"code": code, "message_set_id": ms_id, "is_default": default is True})
    if codes and sorted(codes) != list(VARIANT_CODES[:len(raw)]):
        errors.setdefault("variants", _("Codes run A, B, C … without gaps."))
    if defaults != 1:
        errors.setdefault("variants", _("Exactly one variant is the default."))
    out["ab_test_share"] = _share(errors, "ab_test_share", src.get("ab_test_share", 0.2), 0.05, 0.5)
    metric = src.get("ab_winner_metric") or "conversion"
    if metric not in WINNER_METRICS:
        errors["ab_winner_metric"] = _("One of: %(choices)s.", choices=", ".join(WINNER_METRICS))
    out["ab_winner_metric"] = metric
    out["ab_wait_hours"] = _int_in(errors, "ab_wait_hours", src.get("ab_wait_hours", 48), 1, 336)
    fallback = src.get("ab_fallback", "default")
    if fallback not in WINNER_FALLBACKS:
        errors["ab_fallback"] = _("One of: %(choices)s.", choices=", ".join(WINNER_FALLBACKS))
    out["ab_fallback"] = fallback
    return out

