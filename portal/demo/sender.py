"""Demo data only: the fictitious sender contact and 080 number a demo's marketing messages carry.

The Korean advertising law wraps every marketing message with the sender's contact and a free
opt-out number (``portal.adlaw``); an operator sets them (``PORTAL_SENDER_CONTACT``,
``PORTAL_OPTOUT_080``). A demo seed composes its campaigns inside :func:`demo_sender_contacts`, so
they carry these fictitious ones when the operator set none — and the settings are as before after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

DEMO_SENDER = {"PORTAL_SENDER_CONTACT": "02-555-0100", "PORTAL_OPTOUT_080": "080-555-0100"}


@contextmanager
def demo_sender_contacts() -> Iterator[None]:
    """Inside the block, the sender contact and 080 number default to the demo's fictitious ones."""
    cfg = current_app.config
    saved = {k: cfg.get(k) for k in DEMO_SENDER}
    for key, value in DEMO_SENDER.items():
        cfg[key] = cfg.get(key) or value
    try:
        yield
    finally:
        cfg.update(saved)
