"""Login and password forms (CSRF via Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.validators import DataRequired, Email, EqualTo, Length


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)], filters=[_strip])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired()])
    confirm = PasswordField(_l("Repeat new password"), validators=[DataRequired(), EqualTo("new", _l("The passwords differ."))])


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)], filters=[_strip])


class ResetForm(FlaskForm):
    new = PasswordField(_l("New password"), validators=[DataRequired()])
    confirm = PasswordField(_l("Repeat new password"), validators=[DataRequired(), EqualTo("new", _l("The passwords differ."))])


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Language"), choices=[("ko", "한국어"), ("en", "English")])
