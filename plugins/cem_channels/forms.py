"""Forms of the message-set and channel pages: each names its writable fields (CSRF from
Flask-WTF, no mass assignment). The one-voice rules themselves live in ``voice.store``."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError


def storable(_form: Any, field: Any) -> None:
    """Refuse text no database can store (NUL, a lone surrogate) with a message, not a 500."""
    data = field.data
    if isinstance(data, str) and ("\x00" in data or any(0xD800 <= ord(c) <= 0xDFFF for c in data)):
        raise ValidationError(_l("Remove the characters that cannot be stored (a NUL or a lone surrogate)."))


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST (delete, remove, mark verified, decide)."""


class MessageSetForm(FlaskForm):
    """Master fields and one text area per rendition field; checked by ``voice.store.validate``."""

    name = StringField(_l("Name"), validators=[storable, DataRequired(), Length(max=200)])
    category = StringField(_l("Product category"), validators=[storable, Optional(), Length(max=100)],
                           description=_l("HQ's banned terms of this category apply (e.g. 건강식품)."))
    place = SelectField(_l("Belongs to"), choices=[], validate_choice=False, validators=[Optional()])
    offer = StringField(_l("Offer"), validators=[storable, Optional(), Length(max=1000)])
    offer_code = StringField(_l("Offer code"), validators=[storable, Optional(), Length(max=1000)])
    price = StringField(_l("Price (won)"), validators=[storable, Optional(), Length(max=40)],
                        description=_l("39000, 39,000원 or ₩39,000"))
    valid_from = StringField(_l("Valid from"), validators=[storable, Optional(), Length(max=20)])
    valid_until = StringField(_l("Valid until"), validators=[storable, Optional(), Length(max=20)])
    cta = StringField(_l("Call to action"), validators=[storable, Optional(), Length(max=1000)])
    cta_url = StringField(_l("Call-to-action link"), validators=[storable, Optional(), Length(max=1000)])
    brand_header = StringField(_l("Brand header"), validators=[storable, Optional(), Length(max=1000)])
    brand_footer = StringField(_l("Brand footer"), validators=[storable, Optional(), Length(max=1000)])
    email_subject = StringField(_l("E-mail subject"), validators=[storable, Optional(), Length(max=500)])
    email_body = TextAreaField(_l("E-mail text"), validators=[storable, Optional(), Length(max=20_000)])
    email_html = TextAreaField(_l("E-mail HTML"), validators=[storable, Optional(), Length(max=100_000)])
    sms_body = TextAreaField(_l("SMS / LMS text"), validators=[storable, Optional(), Length(max=20_000)])
    kakao_body = TextAreaField(_l("KakaoTalk text"), validators=[storable, Optional(), Length(max=20_000)])
    push_subject = StringField(_l("Push title"), validators=[storable, Optional(), Length(max=500)])
    push_body = TextAreaField(_l("Push text"), validators=[storable, Optional(), Length(max=20_000)])
    dm_body = TextAreaField(_l("Postal DM text"), validators=[storable, Optional(), Length(max=20_000)])

    MASTER = ("offer", "offer_code", "price", "valid_from", "valid_until", "cta", "cta_url", "brand_header",
              "brand_footer")
    RENDITIONS = {"email": ("subject", "body", "html"), "sms": ("body",), "kakao": ("body",),
                  "push": ("subject", "body"), "dm": ("body",)}

    def payload(self, *, with_place: bool) -> dict[str, Any]:
        """The form as the store's input (the API's shape)."""
        data: dict[str, Any] = {
            "name": self.name.data, "category": self.category.data,
            "master": {n: (getattr(self, n).data or None) for n in self.MASTER},
            "renditions": {c: {f: (getattr(self, f"{c}_{f}").data or None) for f in fields}
                           for c, fields in self.RENDITIONS.items()},
        }
        if with_place:
            data["place"] = self.place.data
        return data

    def fill(self, message_set: Any) -> None:
        """Show a stored set (GET of the edit page)."""
        self.name.data, self.category.data = message_set.name, message_set.category
        master = message_set.master or {}
        for n in self.MASTER:
            value = master.get(n)
            getattr(self, n).data = "" if value is None else str(value)
        for r in message_set.renditions:
            for f in self.RENDITIONS.get(r.channel, ()):
                getattr(self, f"{r.channel}_{f}").data = getattr(r, f) or ""

    def field_for(self, key: str) -> Any:
        """The form field of a store error key (``master.price`` → price, ``renditions.sms.body`` → sms_body)."""
        parts = key.split(".")
        name = None
        if parts[0] == "master" and len(parts) == 2:
            name = parts[1]
        elif parts[0] == "renditions" and len(parts) == 3:
            name = f"{parts[1]}_{parts[2]}"
        elif len(parts) == 1 and parts[0] in ("name", "category", "place"):
            name = parts[0]
        return getattr(self, name, None) if name else None


class BannedTermForm(FlaskForm):
    category = StringField(_l("Product category"), validators=[storable, DataRequired(), Length(max=100)])
    term = StringField(_l("Banned term"), validators=[storable, DataRequired(), Length(max=100)])
    note = StringField(_l("Why (shown to authors)"), validators=[storable, Optional(), Length(max=300)])


class SenderNumberForm(FlaskForm):
    number = StringField(_l("Caller number"), validators=[storable, DataRequired(), Length(max=30)])
    label = StringField(_l("Label"), validators=[storable, Optional(), Length(max=100)])
    verified_on = DateField(_l("Registered with the carrier on"), validators=[Optional()],
                            description=_l("Leave empty until the carrier confirms the registration."))


class VerifyForm(FlaskForm):
    verified_on = DateField(_l("Registered on"), validators=[DataRequired()])


class KakaoTemplateForm(FlaskForm):
    code = StringField(_l("Template code"), validators=[storable, DataRequired(), Length(max=60)])
    name = StringField(_l("Name"), validators=[storable, Optional(), Length(max=200)])
    body = TextAreaField(_l("Approved text"), validators=[storable, DataRequired(), Length(max=2000)])
    approved_on = DateField(_l("Approved by Kakao on"), validators=[Optional()])


class OptoutUploadForm(FlaskForm):
    file = FileField(_l("080 opt-out file (CSV or TXT)"), validators=[FileRequired()])
