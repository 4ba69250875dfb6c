"""Notification kinds of the add-on (``portal_notification_kinds``); each area appends its own."""

from __future__ import annotations

from typing import Any

KINDS: list[dict[str, Any]] = []
