"""The composer's form ⇄ the campaign service's input dict.

The composer is a plain HTML form (it works without JavaScript): five step rows and five variant
rows, of which the filled ones count. This module only reshapes what was typed — it never judges
it: every rule (ranges, channels, message sets, dates) lives in ``campaigns.validation``, whose
``CampaignError.errors`` name the fields (``steps[1].channel``) that the template shows next to
their inputs. A value that is not a number is passed on as typed, so the service's message names
it instead of a silent default.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .campaign_models import (
    CONDITIONS,
    PURPOSES,
    STEP_CHANNELS,
    VARIANT_CODES,
    WINNER_FALLBACKS,
    WINNER_METRICS,
)

KST = ZoneInfo("Asia/Seoul")
MAX_STEPS = 5
STEP_FIELDS = ("channel", "message_set_id", "delay_hours", "condition", "fallback_channel", "kakao_template")
#: Top-level fields the composer writes (the service refuses any other: no mass assignment).
SCALARS = ("name", "purpose", "max_lateness_minutes", "attribution_days", "ab_winner_metric", "ab_wait_hours",
           "ab_fallback", "cap_per_day", "cap_per_7_days")
PERCENTS = ("holdout_share", "ab_test_share")
BOOLS = ("use_global_control", "dedupe_by_address")
CHOICES = {"purpose": PURPOSES, "channel": STEP_CHANNELS, "condition": CONDITIONS, "metric": WINNER_METRICS,
           "fallback": WINNER_FALLBACKS, "codes": VARIANT_CODES}
INTS = ("max_lateness_minutes", "attribution_days", "ab_wait_hours", "cap_per_day", "cap_per_7_days",
        "delay_hours", "message_set_id", "segment_id")


def _clean(value: Any) -> Any:
    """Trimmed text, ``None`` for blank; whole numbers become ``int`` (anything else stays text)."""
    if value is None:
        return None
    text = str(value).strip()
    if text == "":
        return None
    return text


def _number(name: str, value: Any) -> Any:
    value = _clean(value)
    if value is None or name not in INTS:
        return value
    try:
        return int(value)
    except ValueError:
        return value


def _percent(value: Any) -> Any:
    """The form asks for percent (10 = 10 %); the service stores a share (0.1)."""
    value = _clean(value)
    if value is None:
        return None
    try:
        return round(float(value.replace(",", ".").rstrip("% ")) / 100, 6)
    except ValueError:
        return value


def start_at_value(value: Any) -> Any:
    """``2026-12-24T10:00`` typed in KST → ISO-8601 with the +09:00 offset (the service's format)."""
    value = _clean(value)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=KST)
    return parsed.isoformat()


def form_to_data(form: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The service's input from a submitted composer form (a ``MultiDict``), and where each posted
    step and variant came from (blank rows are left out, so ``steps[1]`` may be the form's third row)."""
    rows: dict[str, list[Any]] = {"steps": [], "variants": []}
    data: dict[str, Any] = {name: _number(name, form.get(name)) for name in SCALARS}
    for name in PERCENTS:
        data[name] = _percent(form.get(name))
    for name in BOOLS:
        data[name] = form.get(name) in ("y", "on", "1", "true")
    data["start_at"] = start_at_value(form.get("start_at"))
    if form.get("audience") == "rules":
        data["rules"] = _clean(form.get("rules"))
        if isinstance(data["rules"], str):
            try:
                data["rules"] = json.loads(data["rules"])
            except ValueError:
                pass  # the service names the field: "rules: not valid JSON"
        data["segment_id"] = None
    else:
        data["segment_id"] = _number("segment_id", form.get("segment_id"))
        data["rules"] = None
    steps = []
    for i in range(MAX_STEPS):
        row = {f: _number(f, form.get(f"steps-{i}-{f}")) for f in STEP_FIELDS}
        if row["channel"] is None and row["message_set_id"] is None:
            continue
        row["delay_hours"] = row["delay_hours"] if row["delay_hours"] is not None else 0
        row["condition"] = row["condition"] or "always"
        steps.append(row)
        rows["steps"].append(i)
    data["steps"] = steps
    variants = []
    default = _clean(form.get("variant_default"))
    for code in VARIANT_CODES:
        set_id = _number("message_set_id", form.get(f"variants-{code}-message_set_id"))
        if set_id is None:
            continue
        variants.append({"code": code, "message_set_id": set_id, "is_default": default == code})
        rows["variants"].append(code)
    data["variants"] = variants
    if not variants:
        for name in ("ab_test_share", "ab_winner_metric", "ab_wait_hours", "ab_fallback"):
            data.pop(name, None)
    kept = {k: v for k, v in data.items() if v is not None or k in ("segment_id", "rules", "cap_per_day",
                                                                     "cap_per_7_days", "start_at")}
    return kept, rows


def kst_input(at: datetime | None) -> str:
    """A stored naive-UTC time as the value of a ``datetime-local`` input in KST."""
    if at is None:
        return ""
    return at.replace(tzinfo=UTC).astimezone(KST).strftime("%Y-%m-%dT%H:%M")


def _pct(share: float | None) -> str:
    return "" if share is None else f"{share * 100:g}"


def campaign_to_form(campaign: Any) -> dict[str, Any]:
    """The composer's field values for an existing campaign (same names as the form posts)."""
    values: dict[str, Any] = {
        "name": campaign.name, "purpose": campaign.purpose,
        "audience": "rules" if campaign.rules is not None and campaign.segment_id is None else "segment",
        "segment_id": campaign.segment_id or "", "start_at": kst_input(campaign.start_at),
        "max_lateness_minutes": campaign.max_lateness_minutes, "holdout_share": _pct(campaign.holdout_share),
        "use_global_control": campaign.use_global_control, "attribution_days": campaign.attribution_days,
        "ab_test_share": _pct(campaign.ab_test_share), "ab_winner_metric": campaign.ab_winner_metric or "conversion",
        "ab_wait_hours": campaign.ab_wait_hours, "ab_fallback": campaign.ab_fallback,
        "cap_per_day": campaign.cap_per_day or "", "cap_per_7_days": campaign.cap_per_7_days or "",
        "dedupe_by_address": campaign.dedupe_by_address, "variant_default": "",
    }
    if campaign.rules is not None:
        values["rules"] = json.dumps(campaign.rules, ensure_ascii=False, indent=2)
    for i, step in enumerate(campaign.steps[:MAX_STEPS]):
        for f in STEP_FIELDS:
            value = getattr(step, f)
            values[f"steps-{i}-{f}"] = "" if value is None else value
    for v in campaign.variants:
        values[f"variants-{v.code}-message_set_id"] = v.message_set_id or ""
        if v.is_default:
            values["variant_default"] = v.code
    return values


def posted_values(form: Any) -> dict[str, Any]:
    """What was typed, to show the form again after a refusal (checkboxes as booleans)."""
    values: dict[str, Any] = {k: form.get(k, "") for k in form.keys() if k != "csrf_token"}
    for name in BOOLS:
        values[name] = form.get(name) in ("y", "on", "1", "true")
    return values


def new_values() -> dict[str, Any]:
    """A new campaign's defaults: marketing, one e-mail step, 2 h lateness, 14-day attribution."""
    return {"purpose": "marketing", "audience": "segment", "max_lateness_minutes": 120, "holdout_share": "10",
            "use_global_control": True, "attribution_days": 14, "ab_test_share": "20",
            "ab_winner_metric": "conversion", "ab_wait_hours": 48, "ab_fallback": "default",
            "dedupe_by_address": True, "steps-0-channel": "email", "steps-0-delay_hours": 0,
            "steps-0-condition": "always", "variant_default": "A"}


def field_errors(errors: dict[str, Any], rows: dict[str, list[Any]] | None = None) -> dict[str, str]:
    """The service's error keys → the form's input names (``steps[1].channel`` → the form row it came
    from, ``steps-2-channel``; ``variants[0].message_set_id`` → ``variants-A-message_set_id``; a rule
    problem ``rules.all[0].field`` → ``rules``); other keys stay as they are."""
    rows = rows or {"steps": list(range(MAX_STEPS)), "variants": list(VARIANT_CODES)}
    out: dict[str, str] = {}
    for key, message in errors.items():
        m = re.match(r"(steps|variants)\[(\d+)\](?:\.(\w+))?", key)
        if m and int(m.group(2)) < len(rows[m.group(1)]):
            where = rows[m.group(1)][int(m.group(2))]
            field = m.group(3) or ("channel" if m.group(1) == "steps" else "message_set_id")
            name = f"{m.group(1)}-{where}-{field}"
            out.setdefault(name, str(message))
            continue
        if key.startswith("rules"):
            out["rules"] = (out["rules"] + " " if "rules" in out else "") + str(message)
            continue
        out.setdefault(key, str(message))
    return out
