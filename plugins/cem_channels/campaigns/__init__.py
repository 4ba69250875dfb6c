"""Campaigns: drafts, approval, launch, steps, A/B tests, frequency caps, results.

Modules (each owns its rules; views and the API stay thin):

- ``validation`` — clean a draft's input into column values or a ``CampaignError`` naming fields;
- ``service`` — create / edit drafts, scope (``visible_campaigns``, ``campaign_or_404``), the
  state changes people make (submit, approve, reject, schedule, reschedule, pause, resume,
  cancel) through the core workflow ``cem_campaign`` (``workflow``), ``campaign_dict`` (API JSON);
- ``audience`` — the audience preview (matched, eligible, suppressed by reason, arms);
- ``launch`` — at the start time: freeze the audience (core extraction), draw arms (core
  experiment), split A/B variants, queue step 1; ``expire`` when too late;
- ``steps`` — later steps (delay + condition) queued for the previous step's recipients;
- ``ab`` — variant outcomes and the winner decision (significance guard, ≥ 100 per variant);
- ``caps`` — the cross-channel frequency-cap send-time policy ``cem.frequency_cap``;
- ``jobs`` — the periodic ``cem.campaigns.tick`` that starts, expires, advances and closes campaigns;
- ``results`` — counts per step and variant, conversions and lift, frozen at close, export;
- ``tracking`` — e-mail open pixel and click redirect, provider delivery reports;
- ``calls`` — the phone step's call list and outcomes.
"""

from __future__ import annotations


class CampaignError(ValueError):
    """Bad input or an illegal state: ``errors`` maps a field (``steps[0].channel``, ``state``) to a
    message in the reader's language; ``status`` is the HTTP answer (422 invalid, 409 conflict,
    403 forbidden, 404 not found). Raised before anything is written."""

    def __init__(self, errors: dict[str, str], status: int = 422) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.status = status
