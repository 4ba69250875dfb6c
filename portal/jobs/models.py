"""Tables of the jobs service (migrations/versions/ holds their migration)."""

from __future__ import annotations
