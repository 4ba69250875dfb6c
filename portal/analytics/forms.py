"""Segment and extraction forms: each names exactly the fields it may write (CSRF via Flask-WTF)."""

from __future__ import annotations

import json
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..customers.labels import label
from ..models import EXTRACTION_CHANNELS

EMPTY_RULES = '{"all": []}'


def parse_rules(raw: str | None) -> tuple[Any, str | None]:
    """(rules, error): the JSON text of the textarea; an error message when it is not JSON."""
    try:
        return json.loads(raw or EMPTY_RULES), None
    except (ValueError, RecursionError):
        return None, str(_l("The rules are not valid JSON."))


def pretty(rules: Any) -> str:
    return json.dumps(rules, ensure_ascii=False, indent=2)


class SegmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=500)])
    rules = TextAreaField(_l("Rules (JSON)"), default=EMPTY_RULES, validators=[Length(max=200_000)])
    channel = SelectField(_l("Channel for the preview"), choices=[], validators=[Optional()], validate_choice=False)

    def values(self) -> dict[str, Any]:
        rules, _error = parse_rules(self.rules.data)
        return {"name": self.name.data, "description": self.description.data, "rules": rules}


class ExtractionForm(FlaskForm):
    segment_id = SelectField(_l("Saved segment"), choices=[], validators=[Optional()], validate_choice=False)
    rules = TextAreaField(_l("Or rules (JSON)"), default=EMPTY_RULES, validators=[Length(max=200_000)])
    channel = SelectField(_l("Channel"), choices=[], validators=[Optional()], validate_choice=False)
    name = StringField(_l("Name of the list"), validators=[Optional(), Length(max=120)])


def channel_choices(blank: Any = None) -> list[tuple[str, str]]:
    choices = [(c, label("channel", c)) for c in EXTRACTION_CHANNELS]
    return ([("", str(blank))] if blank is not None else []) + choices
