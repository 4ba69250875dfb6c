"""The notify service's own hook implementations (menu items, permissions, jobs ...), registered as
``core.notify`` — always active, like ``core``."""

from __future__ import annotations

from ..hookspecs import hookimpl  # noqa: F401
