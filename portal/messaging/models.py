"""Tables of the messaging service (migrations/versions/ holds their migration)."""

from __future__ import annotations
