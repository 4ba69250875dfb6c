"""Which jobs exist: the core's (``@job`` / ``@periodic_job``) and the add-ons' (``portal_jobs()``).

A job is a plain function taking JSON keyword arguments (ids, never ORM objects). The decorators
return the function unchanged, so it can still be called directly; registering only records a
:class:`JobSpec`. The Huey instance turns every spec into a Huey task when it is built.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from huey import crontab

log = logging.getLogger("portal.jobs")

NAME_RE = re.compile(r"[a-z0-9_]+(?:[.:-][a-z0-9_]+)*")
CRON_KEYS = ("minute", "hour", "day", "month", "day_of_week")
MAX_RETRIES = 20
MAX_DELAY = 7 * 24 * 3600
MAX_TIME_LIMIT = 24 * 3600


class JobError(ValueError):
    """A job cannot be registered, enqueued or run as asked (unknown name, bad arguments ...)."""


class QueueUnavailable(JobError):
    """The queue's storage (Redis, PostgreSQL, the SQLite file) cannot be reached: nothing was queued."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[..., Any]
    retries: int = 3
    retry_delay: int = 30
    time_limit: int | None = None
    schedule: dict[str, str] | None = None
    plugin: str = "core"
    validate: Callable[[datetime], bool] | None = field(default=None, compare=False, repr=False)

    @property
    def periodic(self) -> bool:
        return self.schedule is not None

    def describe_schedule(self) -> str:
        """``"0 1 * * * (Asia/Seoul)"``: crontab order minute hour day month day-of-week."""
        if self.schedule is None:
            return ""
        cron = " ".join(str(self.schedule.get(k, "*")) for k in CRON_KEYS)
        return f"{cron} ({self.schedule.get('tz', 'UTC')})"


def schedule_validator(schedule: dict[str, Any]) -> Callable[[datetime], bool]:
    """Huey's crontab test for ``schedule`` (crontab keyword arguments plus an optional ``tz``).

    Huey gives the validator naive UTC timestamps; with ``tz`` the hour and day are read in that
    zone (``{"minute": "0", "hour": "10", "tz": "Asia/Seoul"}`` is 10:00 KST = 01:00 UTC).
    """
    if not isinstance(schedule, dict) or not schedule:
        raise JobError("schedule must be a non-empty dict of crontab fields, e.g. {'minute': '*/5'}")
    unknown = set(schedule) - {*CRON_KEYS, "tz"}
    if unknown:
        raise JobError(f"schedule has unknown keys {sorted(unknown)}; use {', '.join(CRON_KEYS)} and tz")
    tz = schedule.get("tz")
    try:
        zone = ZoneInfo(tz) if tz else None
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise JobError(f"schedule tz {tz!r} is not a known time zone") from exc
    try:
        test = crontab(strict=True, **{k: str(v) for k, v in schedule.items() if k != "tz"})
    except ValueError as exc:
        raise JobError(f"schedule {schedule!r} is not a valid crontab: {exc}") from exc
    if zone is None:
        return test
    return lambda ts: test(ts.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None))


def make_spec(name: Any, func: Any, *, retries: Any = 3, retry_delay: Any = 30, time_limit: Any = None,
              schedule: Any = None, plugin: str = "core") -> JobSpec:
    """A checked :class:`JobSpec`; :class:`JobError` says what is wrong."""
    if not isinstance(name, str) or len(name) > 120 or not NAME_RE.fullmatch(name):
        raise JobError(f"job name {name!r} must be 1-120 lower-case letters, digits, '_' and '.', e.g. 'cem.send'")
    if not callable(func):
        raise JobError(f"job {name}: func must be callable")
    for label, value, top in (("retries", retries, MAX_RETRIES), ("retry_delay", retry_delay, MAX_DELAY)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise JobError(f"job {name}: {label} must be a whole number from 0 to {top}")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, int | float)
                                   or not 0 < time_limit <= MAX_TIME_LIMIT):
        raise JobError(f"job {name}: time_limit must be a number of seconds from 1 to {MAX_TIME_LIMIT}, or None")
    validate = schedule_validator(schedule) if schedule is not None else None
    return JobSpec(name=name, func=func, retries=retries, retry_delay=retry_delay, time_limit=time_limit,
                   schedule=dict(schedule) if schedule is not None else None, plugin=plugin, validate=validate)


_CORE: dict[str, JobSpec] = {}


def _register(spec: JobSpec) -> None:
    old = _CORE.get(spec.name)
    if old is not None and old.func is not spec.func and (
            getattr(old.func, "__qualname__", None), getattr(old.func, "__module__", None)) != (
            getattr(spec.func, "__qualname__", None), getattr(spec.func, "__module__", None)):
        raise JobError(f"a job named {spec.name!r} is registered already ({old.func!r})")
    _CORE[spec.name] = spec


def job(name: str, *, retries: int = 3, retry_delay: int = 30,
        time_limit: int | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a core background task (the function is returned unchanged).

    ``retries`` further attempts after a failure, the first ``retry_delay`` seconds later and each
    next one twice as long after the previous (30 s, 60 s, 120 s ...); ``time_limit`` seconds per
    attempt (see docs/platform/jobs.md for what happens on expiry)."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        _register(make_spec(name, func, retries=retries, retry_delay=retry_delay, time_limit=time_limit))
        return func

    return decorator


def periodic_job(name: str, schedule: dict[str, Any], *, retries: int = 3, retry_delay: int = 30,
                 time_limit: int | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a core periodic task: ``schedule`` is crontab fields (``{"minute": "*"}``,
    ``{"minute": "0", "hour": "1"}``), hours in UTC unless ``"tz": "Asia/Seoul"`` is given. It
    runs once per matching minute across all consumers, never overlapping its previous run."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        _register(make_spec(name, func, retries=retries, retry_delay=retry_delay, time_limit=time_limit,
                            schedule=schedule))
        return func

    return decorator


def core_specs() -> dict[str, JobSpec]:
    return dict(_CORE)


def collect_specs(app: Any) -> dict[str, JobSpec]:
    """Core jobs plus every available add-on's ``portal_jobs()`` contributions, whether the add-on
    is enabled or not (that is checked when a run starts: a disabled add-on's run is recorded as
    ``skipped``). A malformed contribution or a name clash is logged and left out, never fatal."""
    from ..plugins import registry

    specs = core_specs()
    reg = registry(app)
    for impl in reversed(reg.pm.hook.portal_jobs.get_hookimpls()):
        owner = impl.plugin_name
        plugin = "core" if owner == "core" or owner.startswith("core.") else owner
        try:
            items = impl.function() or []
        except Exception:  # noqa: BLE001  (one add-on's bug must not stop every job)
            log.exception("Add-on %r: portal_jobs() raised; its jobs are left out", owner)
            continue
        for item in items if isinstance(items, list | tuple) else []:
            try:
                if not isinstance(item, dict):
                    raise JobError(f"{type(item).__name__} is not a dict")
                unknown = set(item) - {"name", "func", "retries", "retry_delay", "time_limit", "schedule"}
                if unknown:
                    raise JobError(f"unknown keys {sorted(unknown)}")
                spec = make_spec(item.get("name"), item.get("func"), retries=item.get("retries", 3),
                                 retry_delay=item.get("retry_delay", 30), time_limit=item.get("time_limit"),
                                 schedule=item.get("schedule"), plugin=plugin)
                if spec.name in specs:
                    raise JobError(f"the name {spec.name!r} is taken by {specs[spec.name].plugin}")
            except JobError as exc:
                log.error("Add-on %r: portal_jobs contribution skipped: %s — %r", owner, exc, repr(item)[:200])
                continue
            specs[spec.name] = spec
    return specs
