"""Tables of the adlaw service (migrations/versions/ holds their migration)."""

from __future__ import annotations
