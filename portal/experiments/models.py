"""Tables of the experiments service (migrations/versions/ holds their migration)."""

from __future__ import annotations
