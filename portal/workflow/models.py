"""Tables of the workflow service (migrations/versions/ holds their migration)."""

from __future__ import annotations
