"""Staff forms: each names its writable fields (CSRF from Flask-WTF, no mass assignment)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from .config import MAX_PCT
from .ledger import MAX_POINTS, unstorable


def storable(_form, field) -> None:
    """Refuse text no database can store (NUL, a lone surrogate) with a message, not a 500."""
    if isinstance(field.data, str) and unstorable(field.data):
        raise ValidationError(_l("Remove the characters that cannot be stored (a NUL or a lone surrogate)."))


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST (buttons: issue a card, toggle, remove a member)."""


class RedeemForm(FlaskForm):
    reward_id = SelectField(_l("Reward"), coerce=int, default=0)
    quantity = IntegerField(_l("Quantity"), default=1, validators=[Optional(), NumberRange(1, 100)])
    points = IntegerField(_l("Or a number of points"), validators=[Optional(), NumberRange(1, MAX_POINTS)])
    reason = StringField(_l("Note"), validators=[storable, Optional(), Length(max=150)])

    def validate_points(self, field):
        if not self.reward_id.data and not field.data:
            raise ValidationError(_l("Choose a reward or enter a number of points."))


class AdjustForm(FlaskForm):
    points = IntegerField(_l("Points (negative to deduct)"),
                          validators=[InputRequired(), NumberRange(-MAX_POINTS, MAX_POINTS)])
    reason = StringField(_l("Reason"), validators=[storable, DataRequired(), Length(max=200)])

    def validate_points(self, field):
        if field.data == 0:
            raise ValidationError(_l("Enter a number other than 0."))


class DecideForm(FlaskForm):
    note = StringField(_l("Note"), validators=[storable, Optional(), Length(max=200)])


class ReverseForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[storable, DataRequired(), Length(max=200)])


class TierForm(FlaskForm):
    code = StringField(_l("Code"), validators=[storable, DataRequired(), Length(max=20), Regexp(r"^[A-Z0-9_]+$")])
    name_ko = StringField(_l("Name (Korean)"), validators=[storable, DataRequired(), Length(max=40)])
    name_en = StringField(_l("Name (English)"), validators=[storable, DataRequired(), Length(max=40)])
    threshold = IntegerField(_l("Points earned in the window"), validators=[InputRequired(), NumberRange(0, MAX_POINTS)])
    multiplier_pct = IntegerField(_l("Earning multiplier (%)"), default=100,
                                  validators=[InputRequired(), NumberRange(100, MAX_PCT)])


class RateForm(FlaskForm):
    category_id = SelectField(_l("Category"), coerce=int)
    multiplier_pct = IntegerField(_l("Multiplier (%)"), default=100, validators=[InputRequired(), NumberRange(0, MAX_PCT)])


class PromotionForm(FlaskForm):
    name = StringField(_l("Name"), validators=[storable, DataRequired(), Length(max=120)])
    starts_on = DateField(_l("From"), validators=[DataRequired()])
    ends_on = DateField(_l("To"), validators=[DataRequired()])
    multiplier_pct = IntegerField(_l("Multiplier (%)"), default=200,
                                  validators=[InputRequired(), NumberRange(100, MAX_PCT)])
    category_id = SelectField(_l("Category"), coerce=int, default=0)

    def validate_ends_on(self, field):
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The end is before the start."))


class RewardForm(FlaskForm):
    code = StringField(_l("Code"), validators=[storable, DataRequired(), Length(max=30), Regexp(r"^[A-Z0-9_-]+$")])
    name_ko = StringField(_l("Name (Korean)"), validators=[storable, DataRequired(), Length(max=120)])
    name_en = StringField(_l("Name (English)"), validators=[storable, DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=[("item", _l("Item")), ("discount", _l("KRW discount"))])
    points_cost = IntegerField(_l("Points"), validators=[InputRequired(), NumberRange(1, MAX_POINTS)])
    krw_value = IntegerField(_l("Discount (KRW)"), default=0, validators=[Optional(), NumberRange(0, 100_000_000)])
    active = BooleanField(_l("Offered"), default=True)


class MemberForm(FlaskForm):
    customer_id = SelectField(_l("Household member"), coerce=int)


class TransferForm(FlaskForm):
    source_id = SelectField(_l("From member"), coerce=int)
    target_id = SelectField(_l("To member"), coerce=int)
    points = IntegerField(_l("Points"), validators=[InputRequired(), NumberRange(1, MAX_POINTS)])
    reason = StringField(_l("Reason"), validators=[storable, DataRequired(), Length(max=200)])
