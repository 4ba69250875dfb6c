"""Customer forms: each names exactly the fields it may write."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .labels import choices


class CustomerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)], description=_l("e.g. 010-1234-5678"))
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=10)])
    birth_date = DateField(_l("Birth date"), validators=[Optional()])
    gender = SelectField(_l("Gender"), choices=[("", "—"), ("F", _l("Female")), ("M", _l("Male"))], validators=[Optional()])
    branch_code = SelectField(_l("Owner branch"), choices=[], validators=[Optional()])
    partner_code = StringField(_l("Owner distributor code"), validators=[Optional(), Length(max=20)],
                               description=_l("e.g. G01-0005; leave empty for a store customer"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])

    FIELDS = ("name", "phone", "email", "address", "postal_code", "birth_date", "gender", "branch_code", "partner_code", "note")

    def values(self) -> dict:
        return {f: getattr(self, f).data for f in self.FIELDS}


class LineCustomerForm(CustomerForm):
    """A new customer of a distributor or leader: the owner is a distributor of their own line,
    chosen from a menu (see ``portal.customers.owners.line_owners``), never a typed code."""

    partner_code = SelectField(_l("Owner distributor"), choices=[], validators=[DataRequired()],
                               description=_l("A customer you add belongs to a distributor of your line."))


class ConsentForm(FlaskForm):
    channel = SelectField(_l("Channel"), choices=[])
    purpose = SelectField(_l("Purpose"), choices=choices("purpose"))
    granted = SelectField(_l("Consent"), choices=[("1", _l("Opt-in")), ("0", _l("Opt-out"))])
    method = SelectField(_l("How it was given"), choices=[c for c in choices("method") if c[0] != "message"])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])

    def __init__(self, *args, **kwargs):
        from ..contact.registry import channel_choices

        super().__init__(*args, **kwargs)
        # The channel registry (core and active add-ons), read per request: an add-on enabled or
        # disabled shows or hides its channel at once.
        self.channel.choices = channel_choices(consent=True)


class QualityFlagForm(FlaskForm):
    field = SelectField(_l("Field"), choices=choices("field"))
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)])


class ResolveForm(FlaskForm):
    issue_id = HiddenField(validators=[DataRequired()])


class ComplaintForm(FlaskForm):
    complaint = BooleanField(_l("Customer has an open complaint"))
    note = StringField(_l("Complaint note"), validators=[Optional(), Length(max=500)])


class HouseholdForm(FlaskForm):
    household_id = StringField(_l("Join household no."), validators=[Optional(), Length(max=12)])
    new_name = StringField(_l("…or start a new household named"), validators=[Optional(), Length(max=120)])
