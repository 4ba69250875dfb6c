"""The contact service's own hook implementations (menu items, permissions, jobs ...), registered as
``core.contact`` — always active, like ``core``."""

from __future__ import annotations

from ..hookspecs import hookimpl  # noqa: F401
