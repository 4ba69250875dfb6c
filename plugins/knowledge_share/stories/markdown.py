"""Story text: CommonMark rendered by markdown-it-py, then sanitised by nh3 (spec §3.5: no
WYSIWYG HTML stored raw). Stories keep their Markdown source; HTML exists only when shown.

Two locks, not one: markdown-it's ``commonmark`` preset runs with ``html`` off (raw ``<script>``
is escaped as text, never passed through) and its link validator refuses ``javascript:``,
``vbscript:``, ``file:`` and ``data:`` (except images) URLs; nh3 (ammonia) then keeps only an
allow-list of tags and attributes, only http(s)/mailto links, and adds
``rel="noopener nofollow ugc"`` to every link — so a bug or a future option in the renderer
cannot open a hole by itself. Images in the text show as their alt text (a story's images are its
attachments, served by the add-on under the core's upload rules).
"""

from __future__ import annotations

import html as html_lib
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

#: At most this many characters are rendered (the story fields hold ≤ 20,000; a guard for callers).
MAX_SOURCE = 50_000

TAGS = {"p", "br", "hr", "strong", "em", "ul", "ol", "li", "blockquote", "code", "pre", "h3", "h4", "h5", "h6",
        "a", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.add_render_rule("image", _image_as_text)
    return md


def _image_as_text(self, tokens, idx, options, env) -> str:  # noqa: ANN001  (markdown-it's renderer signature)
    """An image in the text shows as its alt text: images are attachments, never remote URLs
    (a remote image would tell a third party who read the story)."""
    from markupsafe import escape

    return str(escape(self.renderInlineAsText(tokens[idx].children or [], options, env)))


def _demote_headings(html: str) -> str:
    """``#``/``##`` in a story would compete with the page's own headings: they become h3/h4."""
    for level, new in ((2, 4), (1, 3)):
        html = html.replace(f"<h{level}>", f"<h{new}>").replace(f"</h{level}>", f"</h{new}>")
    return html


def render(text: str | None) -> Markup:
    """CommonMark → sanitised HTML (markdown-it-py + nh3), safe to put into a page as it is."""
    if not text:
        return Markup("")
    source = str(text)[:MAX_SOURCE]
    html = _demote_headings(_parser().render(source))
    clean = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                      link_rel="noopener nofollow ugc", strip_comments=True)
    return Markup(clean)  # noqa: S704  (sanitised by nh3 just above)


def plain_text(text: str | None, limit: int = 300) -> str:
    """The text without Markdown markup, cut to ``limit`` characters (cards, notifications)."""
    if not text:
        return ""
    html = _parser().render(str(text)[:MAX_SOURCE])
    words = html_lib.unescape(" ".join(nh3.clean(html, tags=set()).split()))
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"
