"""The channel registry: every contact channel the portal knows, from the ``portal_channels`` hook.

The core contributes ``email, sms, kakao, push, dm, phone`` (:data:`CORE_CHANNELS`, through its own
``portal_channels`` implementation in :mod:`portal.contact.hooks`); an add-on adds its own the same
way. Consent forms, extraction, suppression, ``may_contact`` and the contact history all ask this
registry, so a channel is known everywhere or nowhere.

A contribution is ``{"code", "label", "consent", "extraction", "order", "fields"}``:

- ``code``: 1–10 characters, lower-case letters, digits and ``_``, starting with a letter (it is
  stored in ``consent.channel``, ``extraction.channel`` and ``contact.channel``);
- ``consent``: consent can be recorded for it (marketing on a channel without consent is refused);
- ``extraction``: target lists can be made for it;
- ``fields``: the customer fields a message on it needs (``phone``, ``email``, ``address``,
  ``postal_code``); empty when the channel's adapter finds the recipient itself (``push``).

The registry is built once per set of active add-ons (``PluginRegistry.derived``): enabling or
disabling an add-on changes it on the next request, in every worker, without a restart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

log = logging.getLogger(__name__)

CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,9}")
#: Customer fields a channel may need, with the suppression reason used when one is missing.
ADDRESS_FIELDS = ("phone", "email", "address", "postal_code")

#: The core's channels (``portal.contact.hooks.portal_channels``), in display order.
CORE_CHANNELS: list[dict[str, Any]] = [
    {"code": "email", "label": _l("E-mail"), "consent": True, "extraction": True, "order": 10, "fields": ("email",)},
    {"code": "sms", "label": _l("SMS"), "consent": True, "extraction": True, "order": 20, "fields": ("phone",)},
    {"code": "kakao", "label": _l("KakaoTalk"), "consent": True, "extraction": True, "order": 30, "fields": ("phone",)},
    {"code": "push", "label": _l("App push"), "consent": True, "extraction": True, "order": 40, "fields": ()},
    {"code": "dm", "label": _l("Direct mail"), "consent": True, "extraction": True, "order": 50,
     "fields": ("address", "postal_code")},
    {"code": "phone", "label": _l("Phone call"), "consent": True, "extraction": True, "order": 60, "fields": ("phone",)},
]


class UnknownChannel(ValueError):
    """A channel code the registry does not hold (``str(exc)`` names the known ones)."""

    def __init__(self, code: Any, known: Sequence[str]):
        self.code = code
        self.known = tuple(known)
        super().__init__(f"Unknown channel {code!r}; use one of: {', '.join(self.known)}.")


@dataclass(frozen=True)
class Channel:
    """One registered channel; ``label`` is a lazy translated string (``str(ch.label)`` in the reader's language)."""

    code: str
    label: Any
    consent: bool = True
    extraction: bool = True
    order: float = 100
    fields: tuple[str, ...] = field(default=())


def _build() -> tuple[Channel, ...]:
    """The core's contributions first, then the add-ons' by name, so a code taken twice keeps the
    core's (or the alphabetically first add-on's) channel whatever the registration order."""
    from ..plugins import registry

    impls = sorted(registry().hook("portal_channels").get_hookimpls(),
                   key=lambda i: (not (i.plugin_name == "core" or i.plugin_name.startswith("core.")), i.plugin_name))
    seen: dict[str, Channel] = {}
    for impl in impls:
        try:
            result = impl.function()
        except Exception as exc:  # noqa: BLE001  (one broken add-on must not take the channels away)
            log.warning("portal_channels of %s raised %s: %s", impl.plugin_name, type(exc).__name__, exc)
            continue
        for spec in result or ():
            try:
                channel = _checked(spec)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("portal_channels: ignoring %r: %s", spec, exc)
                continue
            if channel.code in seen:
                log.warning("portal_channels: channel %r contributed twice; the first one is kept", channel.code)
                continue
            seen[channel.code] = channel
    return tuple(sorted(seen.values(), key=lambda c: (c.order, c.code)))


def _checked(spec: dict[str, Any]) -> Channel:
    code = spec["code"]
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise ValueError("'code' must be 1-10 lower-case letters, digits or '_', starting with a letter")
    label = spec.get("label") or code
    fields = tuple(spec.get("fields") or ())
    if any(f not in ADDRESS_FIELDS for f in fields):
        raise ValueError(f"'fields' may name only {', '.join(ADDRESS_FIELDS)}")
    order = spec.get("order", 100)
    if isinstance(order, bool) or not isinstance(order, int | float):
        raise ValueError("'order' must be a number")
    return Channel(code=code, label=label, consent=bool(spec.get("consent", True)),
                   extraction=bool(spec.get("extraction", True)), order=order, fields=fields)


def channels() -> list[Channel]:
    """Every channel of the core and the active add-ons, in display order."""
    from ..plugins import registry

    return list(registry().derived("contact.registry", _build))


def channel(code: Any) -> Channel | None:
    """The channel ``code``, or None when no active contributor registers it."""
    if not isinstance(code, str):
        return None
    return next((c for c in channels() if c.code == code), None)


def channel_codes(*, consent: bool | None = None, extraction: bool | None = None) -> list[str]:
    """Codes of the registered channels, optionally only those taking consent / extraction."""
    return [c.code for c in channels()
            if (consent is None or c.consent == consent) and (extraction is None or c.extraction == extraction)]


def require_channel(code: Any, *, consent: bool | None = None, extraction: bool | None = None) -> Channel:
    """The channel ``code`` (with the asked capability), or :class:`UnknownChannel` naming the valid codes."""
    known = channel_codes(consent=consent, extraction=extraction)
    ch = channel(code)
    if ch is None or ch.code not in known:
        raise UnknownChannel(code, known)
    return ch


def channel_choices(*, consent: bool | None = None, extraction: bool | None = None) -> list[tuple[str, str]]:
    """``(code, label)`` pairs for a select field."""
    return [(c.code, str(c.label)) for c in channels()
            if (consent is None or c.consent == consent) and (extraction is None or c.extraction == extraction)]


def channel_label(code: str) -> str | None:
    """The registered label of ``code`` (for ``label("channel", code)``), None when unknown."""
    ch = channel(code)
    return str(ch.label) if ch is not None else None


class RegistryCodes(Sequence[str]):
    """A read-only view of the registry's codes that behaves like the old tuple constants.

    ``portal.models.CHANNELS`` / ``EXTRACTION_CHANNELS`` are instances of it, so existing code
    (``channel in CHANNELS``, ``", ".join(CHANNELS)``, ``for c in CHANNELS``) validates against the
    registry. It needs an application context, like any database access.
    """

    def __init__(self, **capability: bool):
        self._capability = capability

    def _codes(self) -> list[str]:
        return channel_codes(**self._capability)

    def __getitem__(self, index: Any) -> Any:
        return self._codes()[index]

    def __len__(self) -> int:
        return len(self._codes())

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes())

    def __contains__(self, value: object) -> bool:
        return value in self._codes()

    def __repr__(self) -> str:
        return f"RegistryCodes({self._capability})"
