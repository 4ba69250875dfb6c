"""cem_channels' hook implementations. Each area (providers, one voice, consent lifecycle) keeps
its code in its own module; only the thin ``@hookimpl`` functions live here."""

from __future__ import annotations

from portal.toolkit import hookimpl  # noqa: F401
