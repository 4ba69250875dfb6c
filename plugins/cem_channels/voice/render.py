"""Rendering renditions: Jinja's ``SandboxedEnvironment`` with ``StrictUndefined``; autoescaped
for e-mail HTML, plain for the text channels. Every failure becomes a :class:`RenderError` that
names the rendition, field and line — never an exception the page turns into a 500."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from .problems import ERROR, Problem

TEMPLATE_NAME = "<template>"  # the filename Jinja gives templates made by from_string
MASTER_FIELDS = ("offer", "offer_code", "price", "valid_from", "valid_until", "cta", "cta_url", "brand_header",
                 "brand_footer")

_PLAIN = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=False)


class RenderError(ValueError):
    """A rendition that cannot be rendered; ``problem`` says where and why."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.message)


def format_price(value: int) -> str:
    """39000 → "39,000원"."""
    return f"{value:,}원"


def format_krw(value: int, *, cp949: bool = False) -> str:
    """39000 → "₩39,000"; "￦39,000" (the full-width sign) for SMS/LMS, whose CP949 lacks "₩"."""
    return f"{'￦' if cp949 else '₩'}{value:,}"


def format_date_ko(value: date) -> str:
    """date(2026, 12, 31) → "12월 31일"."""
    return f"{value.month}월 {value.day}일"


def master_context(master: Mapping[str, Any], channel: str | None = None) -> dict[str, Any]:
    """The variables a rendition may use, from the master as stored (see ``normalise_master``).

    ``price`` "39,000원", ``price_krw`` "₩39,000", ``price_value`` 39000; ``valid_from`` /
    ``valid_until`` "2026-12-31", ``valid_from_ko`` / ``valid_until_ko`` "12월 31일"; ``offer``,
    ``offer_code``, ``cta``, ``cta_url``, ``brand_header``, ``brand_footer`` as written ("" when unset).
    For the ``sms`` channel ``price_krw`` uses "￦" (U+FFE6), since "₩" is not encodable in CP949.
    """
    ctx: dict[str, Any] = {name: master.get(name) or "" for name in MASTER_FIELDS}
    price = master.get("price")
    if isinstance(price, int) and not isinstance(price, bool):
        ctx.update(price=format_price(price), price_krw=format_krw(price, cp949=channel == "sms"), price_value=price)
    else:
        ctx.update(price="", price_krw="", price_value=None)
    for name in ("valid_from", "valid_until"):
        raw = master.get(name)
        day = date.fromisoformat(raw) if isinstance(raw, str) and raw else None
        ctx[name] = day.isoformat() if day else ""
        ctx[f"{name}_ko"] = format_date_ko(day) if day else ""
    return ctx


def _line_from_traceback(exc: BaseException) -> int | None:
    """The template line of a runtime error (Jinja rewrites the traceback to template frames)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == TEMPLATE_NAME:
            line = frame.lineno
    return line


@lru_cache(maxsize=256)
def _compiled(html: bool, source: str) -> Any:
    """A campaign renders one rendition per customer: compile each text once (a Jinja template is
    immutable and safe to render from many threads), not a million times."""
    return (_HTML if html else _PLAIN).from_string(source)


def render_text(source: str, context: Mapping[str, Any], *, html: bool = False, rendition: str = "",
                field: str = "body") -> str:
    """Render one field; raises :class:`RenderError` (with rendition, field and line) on a syntax
    error, an undefined variable, a sandbox violation or any other template failure."""
    try:
        template = _compiled(html, source or "")
    except TemplateSyntaxError as exc:
        raise RenderError(Problem("render_syntax", ERROR, rendition, field, exc.lineno, params={
            "detail": exc.message or str(exc)})) from None
    try:
        return template.render(dict(context))
    except SecurityError as exc:
        raise RenderError(Problem("render_security", ERROR, rendition, field, _line_from_traceback(exc),
                                  params={"detail": str(exc)})) from None
    except UndefinedError as exc:
        name = _undefined_name(str(exc))
        raise RenderError(Problem("render_undefined", ERROR, rendition, field, _line_from_traceback(exc),
                                  params={"name": name})) from None
    except TemplateError as exc:
        raise RenderError(Problem("render_error", ERROR, rendition, field, _line_from_traceback(exc),
                                  params={"detail": str(exc)})) from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RecursionError) as exc:
        # e.g. {{ 1 / 0 }}, {{ price + 1 }} on a string, {{ "%d" % "x" }}
        raise RenderError(Problem("render_error", ERROR, rendition, field, _line_from_traceback(exc),
                                  params={"detail": f"{type(exc).__name__}: {exc}"})) from None


def _undefined_name(message: str) -> str:
    """"'custmer' is undefined" → "custmer"; "'dict object' has no attribute 'nme'" → "nme"."""
    if message.endswith(" is undefined") and message.startswith("'"):
        return message[1:message.index("'", 1)]
    if "has no attribute" in message:
        return message.rsplit("has no attribute", 1)[1].strip().strip("'")
    return message
