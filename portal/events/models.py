"""Tables of the events service (migrations/versions/ holds their migration)."""

from __future__ import annotations
