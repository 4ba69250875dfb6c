"""Clean a programme's input (the JSON body of ``POST /api/v1/prm/programmes``; the page's form
posts the same shape) into column values, steps and sessions — or refuse it.

Every problem is collected under its field path (``run_window.end``, ``category``,
``steps[0].rules.all[1].value``, ``sessions[0].starts_at``) and raised at once as
``ProgrammeError(errors, 422)``, before anything is written: a refused request changes nothing.
Step content and sessions are the content and seminars helpers' shapes; they are cleaned by their
modules (``content.clean_content``, ``seminars.sessions.clean_sessions``).
"""

from __future__ import annotations

import math
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from portal.toolkit import (
    Category,
    Partner,
    PartnerGroup,
    RuleError,
    db,
    has_permission,
    segment_query,
    utcnow,
)

from ..models import (
    DEFAULT_MEASURE_EXTRA_DAYS,
    DESIGNS,
    MAX_HOLDOUT_SHARE,
    MESSAGE_CHANNELS,
    METRICS,
    STEP_KINDS,
    PrmProgramme,
)
from ..permissions import MANAGE
from . import ProgrammeError

FIELDS = ("name", "group", "category", "objective_metric", "baseline_window", "run_window", "measurement_window",
          "design", "holdout_share", "seed", "budget", "target_mde", "objective", "steps", "sessions")
STEP_FIELDS = ("kind", "title", "channels", "rules", "offset_days", "content", "completion_min")
WINDOWS = ("baseline_window", "run_window", "measurement_window")
MAX_STEPS = 5
MAX_SEED = 2**63 - 1
MAX_BUDGET = 10**15  # KRW; far beyond any budget, inside a BIGINT
MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2100, 12, 31)


def _text(errors: dict[str, str], path: str, value: Any, *, required: bool, max_len: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[path] = _("This field is required.")
        return None
    if not isinstance(value, str):
        errors[path] = _("Must be text.")
        return None
    value = value.strip()
    if len(value) > max_len:
        errors[path] = _("At most %(n)d characters.", n=max_len)
        return None
    if "\x00" in value:
        errors[path] = _("Contains characters that cannot be stored.")
        return None
    return value


def _date(errors: dict[str, str], path: str, value: Any) -> date | None:
    if value is None or value == "":
        errors[path] = _("This field is required.")
        return None
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip()[:10]) if len(value.strip()) == 10 else None
        except ValueError:
            day = None
        if day is not None and MIN_DATE <= day <= MAX_DATE:
            return day
    errors[path] = _("Must be a date (YYYY-MM-DD) between 2000 and 2100.")
    return None


def _window(errors: dict[str, str], name: str, value: Any) -> tuple[date, date] | None:
    if value is None:
        errors[name] = _("This field is required.")
        return None
    if not isinstance(value, dict):
        errors[name] = _('Must be an object {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}.')
        return None
    for key in sorted(set(value) - {"start", "end"}, key=str):
        errors[f"{name}.{str(key)[:40]}"] = _("Unknown field.")
    start, end = _date(errors, f"{name}.start", value.get("start")), _date(errors, f"{name}.end", value.get("end"))
    if start is None or end is None:
        return None
    if end < start:
        errors[f"{name}.end"] = _("must not be before the start")
        return None
    return start, end


def _number(errors: dict[str, str], path: str, value: Any, *, integer: bool = False) -> float | int | None:
    """A JSON number (a form's text is parsed by the view): bools and NaN refused."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (isinstance(value, float)
                                                                          and not math.isfinite(value)):
        errors[path] = _("Must be a whole number.") if integer else _("Must be a number.")
        return None
    if integer and isinstance(value, float):
        if not value.is_integer():
            errors[path] = _("Must be a whole number.")
            return None
        value = int(value)
    return value


def _group(errors: dict[str, str], actor: Any, code: Any) -> tuple[PartnerGroup, int] | None:
    if not isinstance(code, str) or not code.strip():
        errors["group"] = _("Choose a partner group (its code, e.g. G01).")
        return None
    group = db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == code.strip()[:20]))
    if group is None or not has_permission(actor, MANAGE, group):
        errors["group"] = _("Unknown partner group.")
        return None
    top = db.session.scalar(select(Partner.id).where(Partner.group_id == group.id, Partner.sponsor_id.is_(None))
                            .order_by(Partner.id).limit(1))
    if top is None:
        errors["group"] = _("This group has no top leader (a partner without a sponsor) yet.")
        return None
    return group, top


def _category(errors: dict[str, str], code: Any) -> Category | None:
    if not isinstance(code, str) or not code.strip():
        errors["category"] = _("Choose a category.")
        return None
    category = db.session.scalar(select(Category).where(Category.code == code.strip()[:20]))
    if category is None:
        errors["category"] = _("Unknown category.")
    return category


def _rules(errors: dict[str, str], actor: Any, path: str, rules: Any) -> None:
    try:
        segment_query(actor, rules)
    except RuleError as exc:
        for sub, message in exc.fields().items():
            if not sub or sub == "rules":
                errors[f"{path}.rules"] = message
            elif sub.startswith("rules"):
                errors[f"{path}.{sub}"] = message
            else:
                errors[f"{path}.rules.{sub}"] = message


def _content(errors: dict[str, str], path: str, raw: Any, channels: list[str]) -> dict[str, Any] | None:
    """The content helper's shape (signer, text per channel), with its field paths."""
    from .content import check_content

    cleaned, problems = check_content(raw, path, channels)
    errors.update(problems)
    return None if problems else cleaned


def _step(errors: dict[str, str], actor: Any, i: int, raw: Any) -> dict[str, Any] | None:
    path = f"steps[{i}]"
    if not isinstance(raw, dict):
        errors[path] = _("Must be an object.")
        return None
    for key in sorted(set(raw) - set(STEP_FIELDS), key=str):
        errors[f"{path}.{str(key)[:40]}"] = _("Unknown field.")
    kind = raw.get("kind")
    if kind not in STEP_KINDS:
        errors[f"{path}.kind"] = _("One of: %(v)s.", v=", ".join(STEP_KINDS))
        return None
    step: dict[str, Any] = {"position": i + 1, "kind": kind, "channels": [], "completion_min": None,
                            "content": None,
                            "title": _text(errors, f"{path}.title", raw.get("title"), required=False, max_len=200) or ""}
    offset = raw.get("offset_days", 0)
    offset = _number(errors, f"{path}.offset_days", offset, integer=True)
    if offset is not None and not 0 <= offset <= 366:
        errors[f"{path}.offset_days"] = _("Must be 0–366 days after the run starts.")
    step["offset_days"] = offset or 0
    rules = raw.get("rules")
    if rules is not None:
        _rules(errors, actor, path, rules)
    step["rules"] = rules
    if kind == "message":
        channels = raw.get("channels")
        if not isinstance(channels, list) or not channels:
            errors[f"{path}.channels"] = _("Choose at least one channel.")
            channels = []
        elif any(c not in MESSAGE_CHANNELS for c in channels) or len(set(channels)) != len(channels):
            errors[f"{path}.channels"] = _("Channels, each once, from: %(v)s.", v=", ".join(MESSAGE_CHANNELS))
            channels = []
        step["channels"] = [c for c in MESSAGE_CHANNELS if c in channels]
        if raw.get("completion_min") is not None:
            errors[f"{path}.completion_min"] = _("Only a seminar series has a completion rule.")
        if raw.get("content") is not None and step["channels"]:
            step["content"] = _content(errors, f"{path}.content", raw["content"], step["channels"])
    else:
        if raw.get("channels"):
            errors[f"{path}.channels"] = _("A seminar series sends invitations; it has no message channels.")
        if raw.get("content") is not None:
            errors[f"{path}.content"] = _("A seminar series has no leader-voiced text.")
        k = raw.get("completion_min", 1)
        k = _number(errors, f"{path}.completion_min", 1 if k is None else k, integer=True)
        if k is not None and not 1 <= k <= 50:
            errors[f"{path}.completion_min"] = _("Must be 1–50 sessions.")
        step["completion_min"] = k
    return step


def _sessions(errors: dict[str, str], raw: Any, now: datetime | None) -> list[dict[str, Any]] | None:
    from ..seminars.sessions import clean_sessions

    cleaned, problems = clean_sessions(raw, path="sessions", now=now or utcnow())
    errors.update(problems)
    return None if problems else cleaned


def programme_input(programme: PrmProgramme) -> dict[str, Any]:
    """A stored programme as input (the base a partial edit is laid over; steps and sessions are
    left out: a PATCH without them keeps them)."""
    p = programme
    return {"name": p.name, "group": p.group.code, "category": p.category.code, "objective_metric": p.objective_metric,
            "baseline_window": {"start": p.baseline_start.isoformat(), "end": p.baseline_end.isoformat()},
            "run_window": {"start": p.run_start.isoformat(), "end": p.run_end.isoformat()},
            "measurement_window": {"start": p.measure_start.isoformat(), "end": p.measure_end.isoformat()},
            "design": list(p.design or []), "holdout_share": p.holdout_share, "seed": p.seed, "budget": p.budget,
            "target_mde": p.target_mde, "objective": p.objective}


def clean(data: Any, actor: Any, existing: PrmProgramme | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """Column values plus ``steps`` (list, or None = unchanged on an edit) and ``sessions`` (list,
    or None = not sent); ``now`` (naive UTC) pins "a session in the past" for tests; raises ``ProgrammeError(errors, 422)`` with every problem found."""
    errors: dict[str, str] = {}
    if not isinstance(data, dict):
        raise ProgrammeError({"": _("Send a JSON object.")}, 422)
    for key in sorted(set(data) - set(FIELDS), key=str):
        errors[str(key)[:60]] = _("Unknown field.")
    raw = {**programme_input(existing), **data} if existing is not None else dict(data)
    if existing is not None and "run_window" in data and "measurement_window" not in data:
        raw.pop("measurement_window", None)  # a moved run window moves the default measurement window
    out: dict[str, Any] = {"name": _text(errors, "name", raw.get("name"), required=True, max_len=200),
                           "objective": _text(errors, "objective", raw.get("objective"), required=False,
                                              max_len=4000)}
    found = _group(errors, actor, raw.get("group"))
    if found:
        out["partner_group_id"], out["partner_id"] = found[0].id, found[1]
    category = _category(errors, raw.get("category"))
    if category is not None:
        out["category_id"] = category.id
    metric = raw.get("objective_metric") or "category_purchase_rate"
    if metric not in METRICS:
        errors["objective_metric"] = _("One of: %(v)s.", v=", ".join(METRICS))
    out["objective_metric"] = metric

    baseline = _window(errors, "baseline_window", raw.get("baseline_window"))
    run = _window(errors, "run_window", raw.get("run_window"))
    measure = None
    if raw.get("measurement_window") is not None:
        measure = _window(errors, "measurement_window", raw.get("measurement_window"))
    elif run is not None:
        measure = (run[0], run[1] + timedelta(days=DEFAULT_MEASURE_EXTRA_DAYS))
    if baseline and run and baseline[1] >= run[0]:
        errors["baseline_window.end"] = _("The baseline must end before the run window starts.")
    if run and measure:
        if measure[0] < run[0]:
            errors["measurement_window.start"] = _("The measurement must not start before the run window.")
        elif measure[1] < run[1]:
            errors["measurement_window.end"] = _("The measurement must not end before the run window.")
    for name, window in (("baseline", baseline), ("run", run), ("measure", measure)):
        if window:
            out[f"{name}_start"], out[f"{name}_end"] = window

    design = raw.get("design", list(DESIGNS))
    if (not isinstance(design, list) or not design or any(d not in DESIGNS for d in design)
            or len(set(design)) != len(design)):
        errors["design"] = _("Choose one or both of: %(v)s.", v=", ".join(DESIGNS))
        design = []
    out["design"] = [d for d in DESIGNS if d in design]
    share = raw.get("holdout_share", 0.1 if "holdout" in design else 0.0)
    if share is None and "holdout" in design:
        errors["holdout_share"] = _("Required with a holdout design.")
    elif share is not None:
        share = _number(errors, "holdout_share", share)
        if share is not None and not 0 <= share <= MAX_HOLDOUT_SHARE:
            errors["holdout_share"] = _("must be 0–50 %")
        elif share is not None and "holdout" in design and share <= 0:
            errors["holdout_share"] = _("A holdout design needs a share above 0 (up to 50 %).")
    out["holdout_share"] = float(share or 0.0)
    seed = raw.get("seed")
    if seed is None:
        seed = secrets.randbits(63)
    else:
        seed = _number(errors, "seed", seed, integer=True)
        if seed is not None and not 0 <= seed <= MAX_SEED:
            errors["seed"] = _("Must be 0 … 2^63−1.")
    out["seed"] = seed
    budget = raw.get("budget")
    if budget is not None:
        budget = _number(errors, "budget", budget, integer=True)
        if budget is not None and not 0 <= budget <= MAX_BUDGET:
            errors["budget"] = _("Must be 0 or more (KRW).")
    out["budget"] = budget
    mde = raw.get("target_mde", 0.03)
    mde = _number(errors, "target_mde", 0.03 if mde is None else mde)
    if mde is not None and not 0 < mde < 1:
        errors["target_mde"] = _("Must be above 0 and below 1 (0.03 = +3 percentage points).")
    out["target_mde"] = mde

    steps: list[dict[str, Any]] | None = None
    if existing is None or "steps" in data:
        raw_steps = raw.get("steps")
        if not isinstance(raw_steps, list) or not 1 <= len(raw_steps) <= MAX_STEPS:
            errors["steps"] = _("Between 1 and %(n)d steps.", n=MAX_STEPS)
        else:
            steps = [c for i, item in enumerate(raw_steps) if (c := _step(errors, actor, i, item)) is not None]
    out["steps"] = steps
    series = [s for s in steps or [] if s["kind"] == "seminar_series"]
    if len(series) > 1:
        errors["steps"] = _("At most one seminar series per programme.")
    out["sessions"] = None
    if raw.get("sessions") is not None:
        if existing is not None and "sessions" in data:
            errors["sessions"] = _("Sessions of an existing programme are edited on its seminar page.")
        elif steps is not None and not series:
            errors["sessions"] = _("Sessions belong to a seminar series step; add one.")
        else:
            out["sessions"] = _sessions(errors, raw["sessions"], now)
    if errors:
        raise ProgrammeError(errors, 422)
    return out
