"""Quality forms: each names exactly the fields it may write."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional


class QuickFixForm(FlaskForm):
    """The queue's inline fix: the four contact fields the automatic checks look at."""

    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=10)])

    FIELDS = ("phone", "email", "address", "postal_code")

    def values(self) -> dict[str, Any]:
        """Only the fields the request sent: a field left out is left alone, not cleared."""
        return {f: getattr(self, f).data for f in self.FIELDS if getattr(self, f).raw_data}


class MergeForm(FlaskForm):
    survivor = RadioField(_l("Keep"), choices=[], validators=[InputRequired()])
    confirm = BooleanField(_l("These two records are the same person"), validators=[DataRequired()])
