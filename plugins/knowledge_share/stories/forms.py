"""The story form (WTForms): every field of a story, the choices a writer may pick from, and the
form turned into the story service's data (the API's field names).

The form holds no rules of its own: the service validates everything (title length, channels,
visibility the author may choose, personal data) and its ``StoryError`` paths are put next to the
fields here (:func:`place_errors`). WTForms gives the CSRF check and what was typed on a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets

from portal.toolkit import Category, OrgUnit, PartnerGroup, db, segment_field_catalog

from ..models import SEASONS, STORY_CHANNELS, TEXT_FIELDS, TITLE_MAX, KsStory

CHANNEL_LABELS = {
    "email": _l("E-mail"), "sms": _l("SMS/LMS"), "kakao": _l("KakaoTalk"), "push": _l("Push"),
    "dm": _l("Postal mail"), "phone": _l("Phone calls"), "visit": _l("Visits"), "seminar": _l("Seminar"),
    "store": _l("In the store"),
}
SEASON_LABELS = {
    "spring": _l("Spring"), "summer": _l("Summer"), "autumn": _l("Autumn"), "winter": _l("Winter"),
    "new_year": _l("Lunar New Year"), "chuseok": _l("Chuseok"), "year_end": _l("Year end"),
    "any": _l("Any season"),
}
VISIBILITY_LABELS = {
    "branch": _l("My branch only"), "region": _l("My region"), "group": _l("My partner group"),
    "all": _l("Everyone in the portal"),
}
#: Form labels of the text fields, in the order of the form and the page.
TEXT_LABELS = {
    "summary": _l("Summary"), "problem": _l("The problem"), "audience": _l("Audience"), "offer": _l("Offer"),
    "timeline": _l("Timeline"), "steps": _l("Steps taken"), "result_text": _l("Result"),
    "lessons": _l("Lessons learned"),
}
TEXT_HINTS = {
    "summary": _l("Two or three sentences another branch reads in the list."),
    "problem": _l("What was not working before: the numbers, the customers, the season."),
    "audience": _l("Who was addressed: segment, category, how many customers."),
    "result_text": _l("Your own figures are labelled self-reported; link a measured campaign for a verified result."),
}
MARKDOWN_HINT = _l("Markdown: **bold**, *italic*, - lists, [links](https://…). No personal data of customers.")
KEYWORDS_MAX = 10


class MultiCheckboxField(SelectMultipleField):
    """Check boxes for a multiple choice (channels); unknown values are the service's to refuse."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class StoryForm(FlaskForm):
    title = StringField(_l("Title"), render_kw={"maxlength": TITLE_MAX})
    summary = TextAreaField(TEXT_LABELS["summary"], description=TEXT_HINTS["summary"], render_kw={"rows": 3})
    problem = TextAreaField(TEXT_LABELS["problem"], description=TEXT_HINTS["problem"], render_kw={"rows": 4})
    audience = TextAreaField(TEXT_LABELS["audience"], description=TEXT_HINTS["audience"], render_kw={"rows": 3})
    channels = MultiCheckboxField(_l("Channels"), validate_choice=False)
    offer = TextAreaField(TEXT_LABELS["offer"], render_kw={"rows": 3})
    timeline = TextAreaField(TEXT_LABELS["timeline"], render_kw={"rows": 3})
    steps = TextAreaField(TEXT_LABELS["steps"], render_kw={"rows": 6})
    result_text = TextAreaField(TEXT_LABELS["result_text"], description=TEXT_HINTS["result_text"],
                                render_kw={"rows": 4})
    lessons = TextAreaField(TEXT_LABELS["lessons"], render_kw={"rows": 4})
    category = SelectField(_l("Product category"), validate_choice=False)
    rfm_segment = SelectField(_l("Customer segment (RFM)"), validate_choice=False)
    season = SelectField(_l("Season"), validate_choice=False)
    keywords = StringField(_l("Keywords"), description=_l("Up to 10, separated by commas."),
                           render_kw={"maxlength": 400})
    visibility = SelectField(_l("Who may read it"), validate_choice=False)
    unit = SelectField(_l("Written for"), validate_choice=False)
    campaign = HiddenField()

    def __init__(self, *args: Any, user: Any = None, story: KsStory | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.channels.choices = [(c, str(CHANNEL_LABELS.get(c, c))) for c in STORY_CHANNELS]
        self.category.choices = [("", str(_l("— none —"))), *category_choices()]
        self.rfm_segment.choices = [("", str(_l("— none —"))), *rfm_choices(user)]
        self.season.choices = [("", str(_l("— none —"))), *[(s, str(SEASON_LABELS[s])) for s in SEASONS]]
        units, groups = writer_places(user)
        allowed = visibility_choices(units, groups)
        if story is not None and story.visibility not in allowed:  # a reviewer's edit keeps the author's choice
            allowed = [story.visibility, *allowed]
        self.visibility.choices = [(v, str(VISIBILITY_LABELS.get(v, v))) for v in allowed]
        #: A writer for several units or groups chooses one (the service refuses a guess).
        self.unit.choices = [(u.code, f"{u.code} · {u.name}") for u in units] + \
            [(g.code, f"{g.code} · {g.name}") for g in groups]
        self.several_places = len(self.unit.choices) > 1
        for name in TEXT_FIELDS:
            self[name].render_kw = {**(self[name].render_kw or {}), "data-markdown": "1"}

    def to_data(self) -> dict[str, Any]:
        """The service's data (the API's names): empty selects are None, keywords a list."""
        data: dict[str, Any] = {"title": self.title.data or ""}
        for name in TEXT_FIELDS:
            data[name] = self[name].data or ""
        data["channels"] = list(self.channels.data or [])
        data["category"] = self.category.data or None
        data["rfm_segment"] = self.rfm_segment.data or None
        data["season"] = self.season.data or None
        data["keywords"] = split_keywords(self.keywords.data or "")
        data["visibility"] = self.visibility.data or "all"
        if self.several_places and self.unit.data:
            data["unit"] = self.unit.data
        campaign = (self.campaign.data or "").strip()
        if campaign:  # an id the service checks (unknown or out of sight: 422 at "campaign")
            data["campaign"] = int(campaign) if campaign.isascii() and campaign.isdigit() and len(campaign) < 10 else 0
        return data

    def fill(self, story: KsStory) -> None:
        """The form of an existing story (edit, or a working copy)."""
        self.title.data = story.title
        for name in TEXT_FIELDS:
            self[name].data = getattr(story, name) or ""
        self.channels.data = list(story.channels or [])
        self.category.data = category_code(story.category_id) or ""
        self.rfm_segment.data = story.rfm_segment or ""
        self.season.data = story.season or ""
        self.keywords.data = ", ".join(story.keywords or [])
        self.visibility.data = story.visibility
        unit = (db.session.get(OrgUnit, story.author_unit_id) if story.author_unit_id is not None
                else db.session.get(PartnerGroup, story.author_group_id) if story.author_group_id is not None else None)
        if unit is not None:
            self.unit.data = unit.code


def split_keywords(raw: str) -> list[str]:
    """"재구매, 세미나 ,," → ["재구매", "세미나"] (lengths and counts are the service's rule)."""
    return [k.strip() for k in raw.replace("，", ",").split(",") if k.strip()]


def category_choices() -> list[tuple[str, str]]:
    from flask_babel import get_locale

    korean = str(get_locale() or "ko").startswith("ko")
    rows = db.session.execute(select(Category.code, Category.name_ko, Category.name_en).order_by(Category.code)).all()
    return [(code, ko if korean else en) for code, ko, en in rows]


def category_code(category_id: int | None) -> str | None:
    if category_id is None:
        return None
    return db.session.scalar(select(Category.code).where(Category.id == category_id))


def rfm_choices(user: Any) -> list[tuple[str, str]]:
    """The core's RFM segments with their labels (the segment builder's catalogue)."""
    for f in segment_field_catalog(user):
        if f["name"] == "rfm_segment" and f.get("choices"):
            return [(str(c), str(label)) for c, label in f["choices"]]
    return []


def writer_places(user: Any) -> tuple[list[Any], list[Any]]:
    """The units and groups ``user`` writes for (the story service's answer)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return [], []
    from .service import writer_places as places

    return places(user)


def visibility_choices(units: list[Any], groups: list[Any]) -> list[str]:
    """What the writer may choose: branch/region when they write for a branch, region for a region,
    group when they write for a partner group, everyone always (the service refuses anything else)."""
    kinds = {getattr(u, "kind", None) for u in units}
    choices = []
    if "branch" in kinds:
        choices.append("branch")
    if kinds & {"branch", "region"}:
        choices.append("region")
    if groups:
        choices.append("group")
    choices.append("all")
    return choices


def place_errors(form: StoryForm, errors: Mapping[str, str]) -> list[str]:
    """Put the service's errors next to their fields (``summary[12:25]`` → ``summary``,
    ``keywords[3]`` → ``keywords``); returns the messages without a field (flashed)."""
    rest: list[str] = []
    aliases = {"category_id": "category", "campaign_id": "campaign", "result": "result_text",
               "result_mark": "result_text"}
    for path, message in errors.items():
        head = path.split("[", 1)[0].split(".", 1)[0]
        head = aliases.get(head, head)
        field = form._fields.get(head) if head and head != "csrf_token" else None
        if field is None or head == "campaign":
            rest.append(message)
            continue
        errs = list(field.errors) if isinstance(field.errors, list | tuple) else []
        field.errors = [*errs, message]
    return rest
