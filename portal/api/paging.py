"""The API's one way to read ``page``/``per_page`` and to shape a page of results."""

from __future__ import annotations

from typing import Any

from flask import abort, request, url_for

from ..pagination import PageArgError, parse_page_args


def page_args() -> tuple[int, int]:
    """Strict paging arguments: junk answers 400 rather than a page the client did not ask for."""
    try:
        return parse_page_args(request.args, strict=True)
    except PageArgError as exc:
        abort(400, description=str(exc))


def page_body(page: Any, items: list[Any], endpoint: str, args: dict[str, Any] | None = None,
              **extra: Any) -> dict[str, Any]:
    """``{"items", "page", "per_page", "total", "total_is_capped", "next"?}`` plus ``extra``;
    ``next`` repeats the filters ``args`` so a client can follow it blindly."""
    body: dict[str, Any] = {"items": items, "page": page.page, "per_page": page.per_page, "total": page.total,
                            "total_is_capped": getattr(page, "total_is_capped", False), **extra}
    if page.has_next:
        body["next"] = url_for(endpoint, **{**(args or {}), "page": page.page + 1, "per_page": page.per_page})
    return body
