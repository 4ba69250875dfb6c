"""What the one-voice checks report: a :class:`Problem` names the rendition, the field, the line
and the text, and reads in the user's language (``message``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

ERROR = "error"  # blocks approval
WARNING = "warning"  # shown, does not block
SUGGESTION = "suggestion"  # e.g. "use {{ price }} instead of the literal"

MESSAGES = {
    "render_syntax": _l("%(where)s, line %(line)s: template syntax error: %(detail)s"),
    "render_undefined": _l("%(where)s, line %(line)s: undefined variable %(name)s"),
    "render_security": _l("%(where)s, line %(line)s: not allowed in a template: %(detail)s"),
    "render_error": _l("%(where)s, line %(line)s: the template cannot be rendered: %(detail)s"),
    "price_differs": _l("%(where)s, line %(line)s: literal price \"%(text)s\" differs from the master (%(master)s)"),
    "price_literal": _l("%(where)s, line %(line)s: \"%(text)s\" equals the master price: write %(variable)s instead"),
    "date_differs": _l("%(where)s, line %(line)s: literal date \"%(text)s\" differs from the master validity "
                       "(%(master)s)"),
    "date_literal": _l("%(where)s, line %(line)s: \"%(text)s\" equals a master date: write %(variable)s instead"),
    "banned_term": _l("%(where)s, line %(line)s: banned term \"%(term)s\" for category %(category)s (\"%(text)s\")"),
    "law": _l("%(where)s: not lawful as a marketing message: %(detail)s"),
    "no_renditions": _l("The message set has no renditions."),
    "master_invalid": _l("Master field %(name)s: %(detail)s"),
}


@dataclass(frozen=True)
class Problem:
    """One finding. ``rendition`` is the channel ("sms", "email" ...) or "master"; ``field`` is
    "subject", "body", "html" or a master field; ``start``/``end`` locate ``text`` in that field."""

    code: str
    level: str
    rendition: str | None = None
    field: str | None = None
    line: int | None = None
    text: str = ""
    start: int | None = None
    end: int | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def where(self) -> str:
        if self.rendition is None:
            return ""
        return f"{self.rendition}.{self.field}" if self.field else self.rendition

    @property
    def message(self) -> str:
        """The problem in the current language ("sms.body, line 2: banned term …")."""
        values = {"where": self.where, "line": self.line if self.line is not None else "-", "text": self.text,
                  **self.params}
        return str(MESSAGES[self.code]) % values  # the translated template, then the values

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "level": self.level, "rendition": self.rendition, "field": self.field,
                "line": self.line, "text": self.text, "start": self.start, "end": self.end,
                "message": self.message}


def line_of(text: str, index: int) -> int:
    """1-based line number of ``index`` in ``text``."""
    return text.count("\n", 0, index) + 1
