"""The file store's own hook implementations, registered as ``core.files``: none yet — the service
has no pages of its own (each add-on streams its files through its own access check)."""

from __future__ import annotations
