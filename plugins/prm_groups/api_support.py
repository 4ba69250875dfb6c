"""What every ``/api/v1/prm`` blueprint shares: the core's refusal shape and English messages
(``portal.toolkit``), with the programme error class for a body that is not a JSON object."""

from __future__ import annotations

from typing import Any

from portal.toolkit import english, http_error, refused
from portal.toolkit import json_object as _json_object

__all__ = ["english", "http_error", "refused", "json_object"]


def json_object(*, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object; a ``ProgrammeError`` 422 for anything else."""
    from .programmes import ProgrammeError

    return _json_object(ProgrammeError, empty_ok=empty_ok)
