"""Tables of the notify service (migrations/versions/ holds their migration)."""

from __future__ import annotations
