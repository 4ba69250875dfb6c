"""Programmes: the service (validation, scope, transitions), leader-voiced content revisions with
approval and diff, the launch (holdout draw, message steps as cem campaigns), jobs, pages and API.

Module map: ``validation`` (clean input, 422 with field paths), ``service`` (create/edit/list,
scope, :func:`service.fire` for transitions), ``content`` (revisions, diff, approval, preview),
``launch`` (start: eligible audience, holdout draw, campaigns), ``jobs`` (run end → measuring),
``views`` / ``api`` (HQ pages, ``/api/v1/prm/programmes``), ``content_views`` / ``content_api``
(the leader's approval page and ``/api/v1/prm/approvals``)."""

from __future__ import annotations

from typing import Any


class ProgrammeError(ValueError):
    """A refused request: ``errors`` maps a field path (``run_window.end``, ``holdout_share``,
    ``sessions[0].starts_at``) to a message in the reader's language; ``status`` 422 (invalid),
    404 (out of scope or unknown), 409 (illegal state), 403 (permission)."""

    def __init__(self, errors: dict[str, Any], status: int = 422):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = {k: str(v) for k, v in errors.items()}
        self.status = status
