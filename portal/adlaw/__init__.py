"""Korean advertising law (정보통신망법 제50조) as pure functions, unsubscribe links and the legal notices.

* :mod:`portal.adlaw.law` — the rules as pure functions ("(광고)", sender, free opt-out, night
  window, CP949 budget, notice dates); no database, no Flask.
* :func:`unsubscribe_url` — signed, expiring links that work without login (``/u/<token>``: GET
  confirms and changes nothing, POST — also RFC 8058 one-click — withdraws the consent).
* :func:`compose_for` — ``law.compose_marketing`` with the portal's sender settings and the
  customer's unsubscribe link filled in (what messaging calls at queue time).
* :mod:`portal.adlaw.notices` — the 2-year re-confirmation and 14-day opt-out result notices, daily
  jobs at 10:00 KST and ``flask portal adlaw notices``.

docs/platform/adlaw.md describes each rule with its legal source.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from .law import AD_PREFIX, Composed, LawViolation
from .links import unsubscribe, unsubscribe_url, unsubscribe_urls
from .settings import compose_for, legal_settings

bp = Blueprint("adlaw", __name__, template_folder="templates")

from . import views  # noqa: E402,F401  (routes on bp)


def init_app(app: Flask) -> None:
    """The ``flask portal adlaw`` commands."""
    from ..cli import portal_cli
    from .cli import adlaw_group

    portal_cli.add_command(adlaw_group)


__all__: list[Any] = ["AD_PREFIX", "Composed", "LawViolation", "bp", "compose_for", "legal_settings", "unsubscribe",
                      "unsubscribe_url", "unsubscribe_urls"]
