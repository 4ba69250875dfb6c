""""Write a story from my measured campaign": the campaigns a writer may start a story from.

The new-story form offers a select "Measured campaign" listing the launched campaigns the writer
may see (cem_channels' hookspec ``cem_campaigns_for``: its scope, in one query), newest launch
first, each with the lift it will show — a closed campaign's frozen figures (verified), or
"still measuring" (interim) for one that runs or waits for its freeze. Choosing one reloads the
form as ``/stories/new?campaign=<id>`` (``views.campaign_prefill`` fills it in; saving links the
result through ``results.service.link_result``, which checks the scope again).

Without cem_channels (disabled, or not loaded in this process) :func:`measured_campaigns` is None
and the page has no select: the form works as before, figures are self-reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from ..models import INTERIM, VERIFIED
from ..results.service import campaign_block, hook_call, lift_label

KST = ZoneInfo("Asia/Seoul")
#: Campaign states a story may cite: running, paused, or done (measured, or measuring until frozen).
MEASURED_STATES = ("sending", "paused", "done")
#: The select lists at most this many (the newest launches); an older one is still linked by URL.
LIMIT = 50


@dataclass(frozen=True)
class CampaignChoice:
    """One option of the select: the campaign, the mark its result would get, and its label."""

    id: int
    name: str
    state: str
    mark: str
    lift_label: str | None
    launched: str

    @property
    def result_label(self) -> str:
        """"Verified: +8.1 pp [5.07, 11.13]" — the figures the story's result block will show."""
        if self.mark == VERIFIED:
            return (_("Verified: %(lift)s", lift=self.lift_label) if self.lift_label
                    else _("Verified: no measured lift"))
        return _("Interim: still measuring")

    @property
    def label(self) -> str:
        return f"{self.name} · {self.launched} · {self.result_label}"


def _launched(at: Any) -> str:
    """The launch's Korean day from cem's ``…Z`` timestamp ("" when unreadable)."""
    if not isinstance(at, str):
        return ""
    try:
        moment = datetime.fromisoformat(at.removesuffix("Z"))
    except ValueError:
        return ""
    return moment.replace(tzinfo=UTC).astimezone(KST).strftime("%Y-%m-%d")


def choice(item: dict[str, Any]) -> CampaignChoice | None:
    """An option from one ``cem_campaigns_for`` item (None for a malformed one)."""
    ident = item.get("id") if isinstance(item, dict) else None
    if isinstance(ident, bool) or not isinstance(ident, int) or ident < 1:
        return None
    block = campaign_block({"lift": item.get("lift"), "ci_low": item.get("ci_low"), "ci_high": item.get("ci_high"),
                            "frozen": item.get("frozen")}, {"id": ident})
    frozen = bool(item.get("frozen"))
    return CampaignChoice(id=ident, name=str(item.get("name") or f"#{ident}")[:200], state=str(item.get("state") or ""),
                          mark=VERIFIED if frozen else INTERIM, lift_label=lift_label(block) if frozen else None,
                          launched=_launched(item.get("started_at")))


def measured_campaigns(user: Any, limit: int = LIMIT) -> list[CampaignChoice] | None:
    """The writer's measured campaigns, newest launch first; None when cem_channels is not active
    (no select), [] when they have none yet (the select's empty state)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    items = hook_call("cem_campaigns_for", actor=user, states=list(MEASURED_STATES), limit=limit)
    if items is None:
        return None
    return [c for c in (choice(i) for i in items) if c is not None]
