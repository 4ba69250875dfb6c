"""The staff form for logging a contact (a phone call, a postal mailing, a visit)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

OUTCOMES = ("answered", "no_answer", "left_message", "mailed", "visited", "declined")


class ContactForm(FlaskForm):
    channel = SelectField(_l("Channel"), choices=[])
    purpose = SelectField(_l("Purpose"), choices=[("marketing", _l("Marketing")), ("service", _l("Service notices"))])
    outcome = SelectField(_l("Outcome"), choices=[])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])

    def __init__(self, *args, **kwargs):
        from ..customers.labels import label
        from .registry import channel_choices

        super().__init__(*args, **kwargs)
        self.channel.choices = channel_choices()
        self.outcome.choices = [(o, label("contact_outcome", o)) for o in OUTCOMES]
