from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp


class OrgUnitForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20), Regexp(r"^[A-Za-z0-9_-]+$")],
                       description=_l("e.g. B013 for a branch, R04 for a region"))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=[("branch", _l("Branch")), ("region", _l("Region"))])
    parent_code = SelectField(_l("Parent"), choices=[])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20)])
    active = BooleanField(_l("Active"), default=True)


class PartnerGroupForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20), Regexp(r"^[A-Za-z0-9_-]+$")],
                       description=_l("e.g. G06"))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    leader_name = StringField(_l("Top leader's name"), validators=[DataRequired(), Length(max=120)])


class PartnerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    sponsor_code = SelectField(_l("Sponsor"), choices=[])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20)])


class PartnerEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20)])
    active = BooleanField(_l("Active"))
    sponsor_code = SelectField(_l("Sponsor"), choices=[], validate_choice=False,
                               description=_l("Changing the sponsor moves this distributor with their whole downline."))
