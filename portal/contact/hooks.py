"""The contact service's own hook implementations, registered as ``core.contact`` — always active,
like ``core``: the core channels and the customer page's "Contact history" tab."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from .registry import CORE_CHANNELS


@hookimpl
def portal_channels() -> list[dict[str, Any]]:
    return [dict(c) for c in CORE_CHANNELS]
