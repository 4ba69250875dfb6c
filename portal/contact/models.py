"""Tables of the contact service (migrations/versions/ holds their migration)."""

from __future__ import annotations
