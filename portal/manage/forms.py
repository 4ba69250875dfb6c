from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    password = PasswordField(_l("Initial password"), validators=[DataRequired()])
    locale = SelectField(_l("Language"), choices=[("ko", "한국어"), ("en", "English")])
    roles = SelectMultipleField(_l("Global roles"), choices=[])  # no Optional(): it would skip the choice check


class UserEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=[("ko", "한국어"), ("en", "English")])
    active = BooleanField(_l("Active (may log in)"))
    roles = SelectMultipleField(_l("Global roles"), choices=[])  # no Optional(): it would skip the choice check


class LocalRoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[])
    target = StringField(_l("On (branch, region, group or distributor code)"), validators=[DataRequired(), Length(max=20)],
                         description=_l("e.g. B001, R01, G01 or G01-0005"))


class RevokeForm(FlaskForm):
    local_role_id = HiddenField(validators=[DataRequired()])


class AddonActionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    purge = BooleanField(_l("Also delete its data"))


def with_role_choices(*forms: FlaskForm) -> None:
    """Role choices come from the core and active plugins (``portal_roles``)."""
    from flask_babel import gettext as _

    from ..security.roles import all_roles

    roles = all_roles()
    for form in forms:
        if hasattr(form, "roles"):
            form.roles.choices = [(r["name"], _(role_name)) for r in roles if (role_name := r["name"])]
        if hasattr(form, "role"):
            form.role.choices = [(r["name"], _(role_name)) for r in roles if r.get("local") and (role_name := r["name"])]
