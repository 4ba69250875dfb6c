"""The adlaw service's own hook implementations (menu items, permissions, jobs ...), registered as
``core.adlaw`` — always active, like ``core``."""

from __future__ import annotations

from ..hookspecs import hookimpl  # noqa: F401
