"""One voice (issue 15, slice B): a message set = one master + channel renditions that use the
master's variables; sandboxed rendering, side-by-side preview with the ad-law wrapper, lint of
literal prices and dates, HQ banned terms per category, :func:`check_approvable`."""

from .banned import check_banned, find_terms, highlight
from .lint import lint_renditions, lint_text
from .problems import ERROR, SUGGESTION, WARNING, Problem
from .render import RenderError, master_context, render_text
from .service import (
    CHANNELS,
    RenderedRendition,
    banned_terms_for,
    blocking,
    check_approvable,
    normalise_master,
    preview,
    render_rendition,
    set_revision,
)

__all__ = [
    "CHANNELS", "ERROR", "SUGGESTION", "WARNING", "Problem", "RenderError", "RenderedRendition", "banned_terms_for",
    "blocking", "check_approvable", "check_banned", "find_terms", "highlight", "lint_renditions", "lint_text",
    "master_context", "normalise_master", "preview", "render_rendition", "render_text", "set_revision",
]
