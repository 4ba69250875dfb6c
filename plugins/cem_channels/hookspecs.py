"""Hooks cem_channels declares for other add-ons (``portal_add_hookspecs``). Other add-ons reach
campaigns only through these: prm_groups sends its programme messages as campaigns, knowledge_share
reuses a campaign. Implemented by cem_channels itself; call them as ``pm.hook.cem_create_campaign(...)``
(firstresult: the one answer). Placeholder until the campaigns API lands (owner: results/hooks)."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("portal")


@hookspec(firstresult=True)
def cem_create_campaign(draft: dict[str, Any], actor: Any) -> dict[str, Any] | None:
    """Create a campaign draft from ``draft`` (the ``POST /api/v1/campaigns`` fields, plus ``origin``
    naming the caller's object) as ``actor``; returns ``{"id", "state", "url"}``. Raises the add-on's
    ``CampaignError`` (a ``ValueError`` with ``errors`` and ``status``) on bad input.

    Content approved elsewhere (prm_groups: the group leader approved the exact text): with
    ``"approval": {"approved_by": <user id>, "note": "…"}`` the campaign is created already
    approved (history comment naming the approver; four-eyes kept: the approver is not ``actor``,
    403) after the law checks of an approval (422), and with ``"schedule": true`` also scheduled
    at its ``start_at`` (a future time; 409 when nobody may be contacted)."""


@hookspec(firstresult=True)
def cem_campaign_result(ref: int | str) -> dict[str, Any] | None:
    """The results of campaign ``ref`` (its id or ``origin``): the ``GET …/results`` document
    (``arms`` with ``n`` and ``conversions``, ``lift``, ``ci_low``, ``ci_high``, ``p_value``,
    ``verdict``, ``frozen``); None for an unknown campaign."""


@hookspec(firstresult=True)
def cem_preview_message_set(data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Preview a message set given as data (``{"name", "category", "master", "renditions":
    {channel: {"subject", "body", "html"}}}``; ``"marketing": False`` for a service message) for
    the sample customer, exactly as cem_channels sends it: per channel the rendered
    ``subject``/``body``/``html``, the same after the ad-law wrapper (``composed_*``), ``sender``
    and ``problems`` (render, law, lint, banned terms) with field paths. Stores nothing."""


@hookspec(firstresult=True)
def cem_create_message_set(data: dict[str, Any], actor: Any) -> dict[str, Any] | None:
    """Create a message set from ``data`` (the ``POST /api/v1/message-sets`` fields: ``name``,
    ``category``, ``master``, ``renditions``, ``place`` — ``"hq"`` or ``"group:<id>"``) as
    ``actor``, validated and linted like the API; returns ``{"id", "revision"}``. Raises the
    add-on's ``SetError`` (``errors`` by field path, ``status``)."""


@hookspec(firstresult=True)
def cem_cancel_campaign(ref: int | str, actor: Any, comment: str) -> dict[str, Any] | None:
    """Cancel campaign ``ref`` (its id or ``origin``) as ``actor`` (the workflow's permission and
    scope; its unsent messages cancelled in the same transaction); one already over is left as it
    is. Returns ``{"id", "state"}``, None for a campaign ``actor`` cannot see. Raises ``CampaignError``."""


@hookspec(firstresult=True)
def cem_demo_send_in_the_past(ref: int | str, at: Any) -> bool | None:
    """Demo seeds only: the scheduled campaign ``ref`` (its id or ``origin``) launched and sent as if at ``at``
    (naive UTC, in the past) — real launch and dispatcher into the local outbox, then the send,
    opens and clicks dated there (``campaigns/demo.py``). Commits. False when it did not send."""


@hookspec(firstresult=True)
def cem_campaign_summary(ref: int | str, actor: Any) -> dict[str, Any] | None:
    """The configuration of campaign ``ref`` (its id): ``name``, ``state``, ``purpose``, its place
    (``branch_id``, ``partner_id``), ``rules`` (a saved segment's when it used one), measurement,
    ``steps``, ``variants``, ``ab_test``, ``message_sets`` (id, name, revision), ``frozen`` /
    ``frozen_at``, ``url``. None for an unknown campaign or one outside ``actor``'s scope;
    ``actor`` None skips the scope check (the caller decided the reader may see it)."""


@hookspec(firstresult=True)
def cem_copy_message_set(set_id: int, actor: Any) -> dict[str, Any] | None:
    """Copy message set ``set_id`` into ``actor``'s place (branch, group or HQ) as a new set with a
    new revision (validated and linted like a new set; no approval names it yet); returns ``{"id",
    "revision"}``, None for an unknown set. Raises the add-on's ``SetError``."""


@hookspec(firstresult=True)
def cem_campaigns_for(actor: Any, states: Any, limit: int) -> list[dict[str, Any]] | None:
    """The launched campaigns in ``states`` (None: sending, paused, done) that ``actor`` may see,
    newest launch first, at most ``limit`` (1…100): ``id``, ``name``, ``state``, ``branch_id``,
    ``partner_id``, ``started_at``, ``frozen`` / ``frozen_at`` and, once frozen, the snapshot's
    ``lift``, ``ci_low``, ``ci_high``, ``p_value``, ``verdict`` (None before), ``url``."""
