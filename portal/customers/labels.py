"""Translated labels for the coded values stored on customers (channels, purposes, fields)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS = {
    "channel": {"sms": _l("SMS"), "email": _l("E-mail"), "dm": _l("Direct mail"), "phone": _l("Phone call"),
                "push": _l("App push")},
    "purpose": {"marketing": _l("Marketing"), "service": _l("Service notices"),
                "night_ads": _l("Advertising at night (21:00–08:00)")},
    "method": {"store": _l("In store"), "paper": _l("Paper form"), "web": _l("Website"), "phone": _l("By phone"),
               "import": _l("Imported"), "api": _l("API")},
    "field": {"phone": _l("Phone"), "email": _l("E-mail"), "address": _l("Address"), "postal_code": _l("Postal code"),
              "name": _l("Name"), "birth_date": _l("Birth date")},
}


def label(kind: str, value: str | None) -> str:
    return str(LABELS.get(kind, {}).get(value, value or ""))


def choices(kind: str) -> list[tuple[str, object]]:
    return list(LABELS[kind].items())
