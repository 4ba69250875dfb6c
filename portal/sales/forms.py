"""The upload form: the file, the mode and the explicit replace choice."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, SelectField


class UploadForm(FlaskForm):
    file = FileField(_l("Daily sales report"), validators=[
        FileRequired(_l("Choose the report file.")),
        FileAllowed(["csv", "txt", "xlsx"], _l("Upload a .csv or .xlsx file.")),
    ], description=_l("CSV (UTF-8 or Korean Excel CP949) or XLSX, one branch and one day per file."))
    mode = SelectField(_l("When some rows have problems"), choices=[
        ("strict", _l("Import nothing (strict)")),
        ("lenient", _l("Import the good rows and list the others (lenient)")),
    ], default="strict")
    replace = BooleanField(_l("Replace the report already imported for that branch and day"))
