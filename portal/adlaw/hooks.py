"""The adlaw service's own hook implementations, registered as ``core.adlaw`` — always active.

* ``portal_jobs``: the three daily notice jobs at 10:00 KST (daytime, so a notice never needs the
  night consent it is not subject to anyway).
* ``portal_messages_settled``: a sent notice becomes a consent event at once.
"""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl

#: 10:00 Korean time every day (docs/platform/adlaw.md).
NOTICE_SCHEDULE = {"minute": "0", "hour": "10", "tz": "Asia/Seoul"}


@hookimpl
def portal_jobs() -> list[dict[str, Any]]:
    from .notices import optin_result_notices, optout_result_notices, reconfirmation_notices

    return [
        {"name": "adlaw.reconfirmation_notices", "func": reconfirmation_notices, "schedule": NOTICE_SCHEDULE,
         "retries": 3, "retry_delay": 300, "time_limit": 3600},
        {"name": "adlaw.optout_result_notices", "func": optout_result_notices, "schedule": NOTICE_SCHEDULE,
         "retries": 3, "retry_delay": 300, "time_limit": 3600},
        {"name": "adlaw.optin_result_notices", "func": optin_result_notices, "schedule": NOTICE_SCHEDULE,
         "retries": 3, "retry_delay": 300, "time_limit": 3600},
    ]


@hookimpl
def portal_messages_settled(messages: list[Any]) -> None:
    from .notices import on_messages_settled

    on_messages_settled(messages)
