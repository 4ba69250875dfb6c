"""Campaign drafts, scope and the state changes people make (placeholder: owner H1a)."""

from __future__ import annotations

from typing import Any


def campaign_revision(campaign: Any) -> dict[str, Any]:
    return {"name": campaign.name}


def create_from_hook(draft: dict[str, Any], actor: Any) -> dict[str, Any] | None:
    return None
