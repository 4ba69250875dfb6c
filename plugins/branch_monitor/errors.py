"""The add-on's one refusal: ``MonitorError(errors, status)``, ``errors`` by field path
(``{"deadline_hour": "…", "days[0].date": "…"}``), ``status`` 403/404/409/422. The API answers it
with the core's refusal shape (``portal.toolkit.refused``); pages flash its messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class MonitorError(ValueError):
    def __init__(self, errors: Mapping[str, Any] | str, status: int = 422, **extra: Any):
        if isinstance(errors, str):
            errors = {"": errors}
        self.errors = {k: str(v) for k, v in errors.items()}
        self.status = status
        self.extra = extra
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items()))
