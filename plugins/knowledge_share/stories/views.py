"""Story pages: the list with search, filter chips and sort; the story page with its result block,
attachments, workflow buttons, working-copy notice and history; the new/edit form; "my stories";
the review queue; the full history; the transition and check-out endpoints.

Thin handlers: stories load through ``service.get_story_or_404`` (the visibility rule in SQL — a
story out of sight is 404 like a missing id), every change goes through the story service, whose
``StoryError`` is shown next to the form's fields (or above the buttons) with its status; nothing
is written on a refusal. Lists are one SQL query per page (``search.query.search`` for the list,
``paginate`` for "mine" and the review queue) plus one query for the page's unit names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import and_, func, select

from portal.toolkit import (
    Category,
    OrgUnit,
    PartnerGroup,
    User,
    WorkflowError,
    available_transitions,
    current_revision,
    db,
    has_global_permission,
    has_permission,
    paginate,
    parse_page_args,
    permission_required,
    plugin_hook,
    workflow_history,
)

from ..errors import StoryError
from ..models import (
    ARCHIVED,
    INTERIM,
    MERGED,
    PENDING,
    PRIVATE,
    PUBLISHED,
    SELF_REPORTED,
    STATES,
    TEXT_FIELDS,
    VERIFIED,
    KsStory,
)
from ..permissions import REVIEW, VIEW, WRITE
from .forms import (
    CHANNEL_LABELS,
    MARKDOWN_HINT,
    SEASON_LABELS,
    TEXT_LABELS,
    VISIBILITY_LABELS,
    StoryForm,
    place_errors,
    rfm_choices,
)
from .visibility import visible_filter

bp = Blueprint("ks_stories", __name__, url_prefix="/stories", template_folder="../templates",
               static_folder="../static/stories", static_url_path="/stories-static")

KST = ZoneInfo("Asia/Seoul")
PER_PAGE = 20
SORTS = ("relevance", "newest", "helpful")
MARKS = (VERIFIED, INTERIM, SELF_REPORTED)
#: Working copies shown on the history page (a story edited more often shows the latest ones).
HISTORY_COPIES = 50

STATE_LABELS = {PRIVATE: _l("Private"), PENDING: _l("Pending review"), PUBLISHED: _l("Published"),
                ARCHIVED: _l("Archived"), MERGED: _l("Published into the story")}
MARK_LABELS = {VERIFIED: _l("Verified result"), INTERIM: _l("Interim result"),
               SELF_REPORTED: _l("Self-reported result")}
#: Button labels of the transitions on the story page (the workflow's titles where they read well).
BUTTON_LABELS = {"archive": _l("Archive the story"), "restore": _l("Publish the story again")}
SORT_LABELS = {"relevance": _l("Best match"), "newest": _l("Newest"), "helpful": _l("Most helpful")}


def _service() -> Any:
    from . import service

    return service


def _endpoint(name: str) -> bool:
    return name in current_app.view_functions


def today_kst() -> date:
    """The Korean calendar day, as the story service counts freshness."""
    return _service().today_kst()


def needs_review(story: Any, today: date | None = None) -> bool:
    """A published story whose 12-month review date has passed (shown, never hidden)."""
    due = getattr(story, "review_due", None)
    return getattr(story, "state", None) == PUBLISHED and due is not None and due < (today or today_kst())


@bp.app_template_filter("ks_kst")
def kst_filter(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored naive-UTC time in Asia/Seoul."""
    return at.replace(tzinfo=UTC).astimezone(KST).strftime(fmt) if at is not None else "—"


@dataclass
class Pager:
    """The core pager macro's view of a search page (``pages``, ``has_prev``, ``has_next``)."""

    items: list[Any]
    page: int
    per_page: int
    total: int
    total_is_capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:  # a capped total (search: "1,000+"): on while the pages are full
        return self.page < self.pages or (self.total_is_capped and len(self.items) == self.per_page)


def _story(story_id: int) -> KsStory:
    """The story if the user may see it, else 404 (the service's visibility rule)."""
    try:
        story = _service().get_story_or_404(story_id, current_user)
    except StoryError:
        abort(404)
    if story is None:
        abort(404)
    return story


def unit_names(stories: list[Any]) -> dict[tuple[str, int], str]:
    """The author units' and groups' names of a page of stories, in two small queries."""
    units = {s.author_unit_id for s in stories if s.author_unit_id is not None}
    groups = {s.author_group_id for s in stories if s.author_group_id is not None}
    names: dict[tuple[str, int], str] = {}
    if units:
        names.update({("unit", i): n for i, n in db.session.execute(
            select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(units)))})
    if groups:
        names.update({("group", i): n for i, n in db.session.execute(
            select(PartnerGroup.id, PartnerGroup.name).where(PartnerGroup.id.in_(groups)))})
    return names


def _categories() -> list[tuple[str, int, str]]:
    from flask_babel import get_locale

    korean = str(get_locale() or "ko").startswith("ko")
    rows = db.session.execute(select(Category.code, Category.id, Category.name_ko, Category.name_en)
                              .order_by(Category.code)).all()
    return [(code, cid, ko if korean else en) for code, cid, ko, en in rows]


def _labels() -> dict[str, Any]:
    return {"state_labels": STATE_LABELS, "mark_labels": MARK_LABELS, "button_labels": BUTTON_LABELS, "channel_labels": CHANNEL_LABELS,
            "season_labels": SEASON_LABELS, "visibility_labels": VISIBILITY_LABELS, "text_labels": TEXT_LABELS}


# -- list ----------------------------------------------------------------------------------------------


@bp.get("/")
@permission_required(VIEW)
def index():
    """Published stories the user may see: search (Korean bigrams), chips, sort, pages."""
    from ..search.query import search

    q = (request.args.get("q") or "").strip()[:100]
    categories = _categories()
    by_code = {code: (cid, name) for code, cid, name in categories}
    category = request.args.get("category") or ""
    category = category if category in by_code else ""
    channel = request.args.get("channel") or ""
    channel = channel if channel in CHANNEL_LABELS else ""
    season = request.args.get("season") or ""
    season = season if season in SEASON_LABELS else ""
    mark = request.args.get("mark") or ""
    mark = mark if mark in MARKS else ""
    sort = request.args.get("sort") or ("relevance" if q else "newest")
    sort = sort if sort in SORTS else ("relevance" if q else "newest")
    page_no, _size = parse_page_args(request.args, default_size=PER_PAGE)
    filters: dict[str, Any] = {}
    if category:
        filters["category_id"] = by_code[category][0]
    if channel:
        filters["channel"] = channel
    if season:
        filters["season"] = season
    if mark:
        filters["mark"] = mark
    try:
        result = search(current_user, q, filters=filters, sort=sort, page=page_no, per_page=PER_PAGE)
    except StoryError as exc:  # a page out of range and the like: the first page, with the reason
        flash(" ".join(exc.errors.values()), "error")
        result = search(current_user, q, filters=filters, sort=sort, page=1, per_page=PER_PAGE)
    items = list(result.items)
    page = Pager(items, result.page, result.per_page or PER_PAGE, result.total,
                 getattr(result, "total_is_capped", False))
    args = {k: v for k, v in (("q", q), ("category", category), ("channel", channel), ("season", season),
                              ("mark", mark), ("sort", sort)) if v}
    from .markdown import render

    return render_template(
        "knowledge_share/stories/index.html", page=page, ks_markdown=render, q=q, args=args, category=category, channel=channel,
        season=season, mark=mark, sort=sort, sorts=SORTS, sort_labels=SORT_LABELS, marks=MARKS,
        categories=categories, category_names={cid: name for _c, cid, name in categories},
        names=unit_names(items), today=today_kst(), may_write=has_permission(current_user, WRITE),
        filtered=bool(q or filters), **_labels())


# -- the story page ------------------------------------------------------------------------------------


def open_copy(story: KsStory) -> KsStory | None:
    """The working copy of a published story still in review (private or pending), if the user may see it."""
    if story.base_id is not None:
        return None
    return db.session.execute(select(KsStory).where(
        KsStory.base_id == story.id, KsStory.state.in_((PRIVATE, PENDING)), visible_filter(current_user))
        .order_by(KsStory.id.desc()).limit(1)).scalar_one_or_none()


def _people(ids: set[Any]) -> dict[int, Any]:
    ids = {i for i in ids if i is not None}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


def may_edit(story: KsStory) -> bool:
    """Show the edit button where the service would allow it: a private story to its author, a
    pending one also to reviewers, a published one (through a working copy) to its author or a
    writer holding ``ks.write`` globally. The service decides again on save."""
    if not has_permission(current_user, WRITE) and not has_permission(current_user, REVIEW):
        return False
    mine = story.author_id is not None and story.author_id == current_user.id
    if story.state == PRIVATE:
        return mine
    if story.state == PENDING:
        return mine or has_permission(current_user, REVIEW)
    if story.state == PUBLISHED and story.base_id is None:
        return has_permission(current_user, WRITE) and (mine or has_global_permission(current_user, WRITE))
    return False


def _result_block(story: KsStory) -> dict[str, Any]:
    """The results service's block (read-only) with the author's own figures rendered from Markdown."""
    from ..results.service import result_block
    from .markdown import render

    block = dict(result_block(story) or {})
    block.setdefault("mark", SELF_REPORTED)
    block["text_html"] = render(block.get("text")) if block.get("text") else None
    return block


def _detail(story: KsStory, errors: dict[str, str] | None = None, status: int = 200, comment: str = ""):
    from .markdown import render

    transitions = [t for t in available_transitions(story, current_user) if t.id != "merge"]
    history = workflow_history(story)
    copy = open_copy(story)
    base = db.session.get(KsStory, story.base_id) if story.base_id is not None else None
    category = db.session.get(Category, story.category_id) if story.category_id is not None else None
    rfm = dict(rfm_choices(current_user)).get(story.rfm_segment or "", story.rfm_segment)
    attachments = list(story.attachments)
    return render_template(
        "knowledge_share/stories/detail.html", story=story, base=base, copy=copy,
        rendered={name: render(getattr(story, name)) for name in TEXT_FIELDS if getattr(story, name)},
        text_fields=TEXT_FIELDS, result=_result_block(story), category=category, rfm=rfm,
        transitions=transitions, revision=current_revision(story) if any(t.approves for t in transitions) else None,
        history=history[-5:], history_total=len(history), people=_people({h.actor_id for h in history}
                                                                          | {story.author_id}),
        names=unit_names([story]), attachments=attachments, errors=errors or {}, comment=comment,
        may_edit=may_edit(story), today=today_kst(), needs_review=needs_review(story),
        files=_endpoint("ks_attachments.download"), upload=_endpoint("ks_attachments.upload"),
        remove=_endpoint("ks_attachments.delete"), **_labels(),
    ), status


@bp.get("/<int:story_id>")
@permission_required(VIEW)
def detail(story_id: int):
    """Every field rendered from Markdown, tags, result block, attachments, buttons, history."""
    return _detail(_story(story_id))


@bp.get("/<int:story_id>/history")
@permission_required(VIEW)
def history(story_id: int):
    """Every transition of the story and of its working copies, newest first, with actors and comments."""
    story = _story(story_id)
    copies = list(db.session.execute(select(KsStory).where(KsStory.base_id == story.id, visible_filter(current_user))
                                     .order_by(KsStory.id.desc()).limit(HISTORY_COPIES)).scalars())
    rows = [(h, None) for h in workflow_history(story)]
    for c in copies:
        rows += [(h, c) for h in workflow_history(c)]
    rows.sort(key=lambda r: (r[0].at, r[0].id), reverse=True)
    return render_template("knowledge_share/stories/history.html", story=story, rows=rows,
                           people=_people({h.actor_id for h, _c in rows}), **_labels())


def _fail(story_id: int, exc: Exception, comment: str = ""):
    """A refused action: the story page again with the reason (its status), nothing written."""
    db.session.rollback()
    status = getattr(exc, "status", 422)
    if status == 404:
        abort(404)
    if isinstance(exc, StoryError):
        errors = exc.errors
    else:
        errors = {"": str(getattr(exc, "message", exc))}
    story = _story(story_id)
    return _detail(story, errors, status=status if status in (403, 409, 422) else 422, comment=comment)


@bp.post("/<int:story_id>/transition")
@permission_required(VIEW)
def transition(story_id: int):
    """One workflow transition through ``service.fire`` (scope, permission, state, comment, PII guard)."""
    story = _story(story_id)
    name = (request.form.get("transition") or "")[:40]
    comment = (request.form.get("comment") or "").strip()
    try:
        current = _service().fire(story, name, current_user, comment, revision=request.form.get("revision") or None)
        db.session.commit()
    except (StoryError, WorkflowError) as exc:
        return _fail(story_id, exc, comment)
    if current.id != story_id:  # a working copy published into its base story
        flash(_("The revised version is published: the story now shows it."), "success")
        return redirect(url_for(".detail", story_id=current.id), 303)
    story = current
    flash(_("Done: the story is now “%(state)s”.", state=STATE_LABELS.get(story.state, story.state)), "success")
    return redirect(url_for(".detail", story_id=story.id), 303)


@bp.post("/<int:story_id>/checkout")
@permission_required(WRITE)
def checkout(story_id: int):
    """Edit a published story: its working copy (created once), reviewed while the story stays online."""
    story = _story(story_id)
    try:
        copy = _service().checkout(story, current_user)
        db.session.commit()
    except (StoryError, WorkflowError) as exc:
        return _fail(story_id, exc)
    flash(_("You are editing a revised version. The published story stays online until a reviewer publishes it."),
          "info")
    return redirect(url_for(".edit", story_id=copy.id), 303)


# -- the form ------------------------------------------------------------------------------------------


def _form_page(form: StoryForm, story: KsStory | None = None, status: int = 200, campaign: dict | None = None):
    from .from_campaign import measured_campaigns

    return render_template("knowledge_share/stories/form.html", form=form, story=story, status=status,
                           text_fields=TEXT_FIELDS, markdown_hint=MARKDOWN_HINT, campaign=campaign,
                           # a new story starts from a measured campaign (None: no cem_channels, no select)
                           campaign_choices=measured_campaigns(current_user) if story is None else None,
                           chosen=campaign.get("id") if campaign else None,
                           upload=_endpoint("ks_attachments.upload") and story is not None), status


def _refused(form: StoryForm, story: KsStory | None, exc: StoryError | WorkflowError,
             campaign: dict[str, Any] | None = None):
    db.session.rollback()
    status = getattr(exc, "status", 422)
    if status == 404:
        abort(404)
    errors = exc.errors if isinstance(exc, StoryError) else {"": str(getattr(exc, "message", exc))}
    for message in place_errors(form, errors):
        flash(message, "error")
    story = db.session.get(KsStory, story.id) if story is not None and story.id else None
    return _form_page(form, story, status if status in (403, 409, 422) else 422, campaign=campaign)


def campaign_prefill(raw: str | None) -> tuple[int | None, dict[str, Any] | None]:
    """``?campaign=<id>``: the campaign's configuration through cem_channels' hook, only when the
    user may see it (None when the add-on is off, the campaign unknown or out of scope); the link
    itself is checked again by ``link_result`` on save."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) < 1:
        return None, None
    summary = plugin_hook("cem_campaign_summary")(ref=int(text), actor=current_user)
    return (int(text), summary) if isinstance(summary, dict) else (None, None)


def _prefill(form: StoryForm, summary: dict[str, Any]) -> None:
    """Title, channels and audience from the campaign (the author rewrites them as they like)."""
    channels = [s.get("channel") for s in summary.get("steps") or [] if isinstance(s, dict)]
    form.channels.data = [c for c in dict.fromkeys(channels) if c in CHANNEL_LABELS]
    name = summary.get("name")
    if isinstance(name, str) and name:
        form.title.data = name[:200]
        form.audience.data = _("The customers of the campaign “%(name)s”.", name=name)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(WRITE)
def new():
    """A new private story; ``?campaign=<id>`` fills it from a measured campaign and links its result."""
    form = StoryForm(user=current_user)
    if request.method == "GET":
        form.visibility.data = "all"  # a story is written to be shared; the writer narrows it
        campaign_id, summary = campaign_prefill(request.args.get("campaign"))
        if summary is not None:
            form.campaign.data = str(campaign_id)
            _prefill(form, summary)
        return _form_page(form, campaign=summary)
    _campaign_id, summary = campaign_prefill(form.campaign.data)
    if not form.validate_on_submit():
        return _form_page(form, status=422, campaign=summary)
    try:
        story = _service().create_story(form.to_data(), current_user)
        db.session.commit()
    except (StoryError, WorkflowError) as exc:
        return _refused(form, None, exc, summary)
    flash(_("Story saved. It stays private until you submit it for review."), "success")
    return redirect(url_for(".detail", story_id=story.id), 303)


@bp.route("/<int:story_id>/edit", methods=["GET", "POST"])
@permission_required(VIEW)
def edit(story_id: int):
    """Edit a private or pending story (or a working copy); a published story is edited through its copy."""
    story = _story(story_id)
    if story.state not in (PRIVATE, PENDING):
        if story.state == PUBLISHED and story.base_id is None:
            flash(_("A published story is edited as a revised version: use “Edit” on the story page."), "info")
        else:
            flash(_("This story can no longer be edited."), "error")
        return redirect(url_for(".detail", story_id=story.id), 303)
    if not may_edit(story):
        abort(403)
    form = StoryForm(user=current_user, story=story)
    if request.method == "GET":
        form.fill(story)
        return _form_page(form, story)
    if not form.validate_on_submit():
        return _form_page(form, story, status=422)
    try:
        _service().update_story(story, form.to_data(), current_user)
        db.session.commit()
    except (StoryError, WorkflowError) as exc:
        return _refused(form, story, exc)
    flash(_("Story saved."), "success")
    return redirect(url_for(".detail", story_id=story.id), 303)


# -- mine and the review queue -------------------------------------------------------------------------


@bp.get("/mine")
@permission_required(WRITE)
def mine():
    """My stories in every state (working copies included), "needs review" flagged, newest change first."""
    state = request.args.get("state") or ""
    state = state if state in STATES else ""
    page_no, _size = parse_page_args(request.args, default_size=PER_PAGE)
    cond = and_(KsStory.author_id == current_user.id, visible_filter(current_user))
    stmt = select(KsStory).where(cond)
    if state:
        stmt = stmt.where(KsStory.state == state)
    page = paginate(stmt.order_by(KsStory.updated_at.desc(), KsStory.id.desc()), page_no, PER_PAGE, key=KsStory.id)
    counts = dict(db.session.execute(select(KsStory.state, func.count()).where(cond).group_by(KsStory.state)).all())
    today = today_kst()
    due = db.session.scalar(select(func.count()).select_from(KsStory).where(
        cond, KsStory.base_id.is_(None), KsStory.state == PUBLISHED, KsStory.review_due < today))
    return render_template("knowledge_share/stories/mine.html", page=page, state=state, states=STATES,
                           counts=counts, total=sum(counts.values()), due=due or 0, today=today,
                           args={"state": state} if state else {}, names=unit_names(page.items), **_labels())


@bp.get("/review")
@permission_required(REVIEW)
def review_queue():
    """Pending stories (and revised versions) the reviewer may see, oldest first."""
    page_no, _size = parse_page_args(request.args, default_size=PER_PAGE)
    stmt = (select(KsStory).where(KsStory.state == PENDING, visible_filter(current_user))
            .order_by(KsStory.updated_at, KsStory.id))
    page = paginate(stmt, page_no, PER_PAGE, key=KsStory.id)
    return render_template("knowledge_share/stories/review.html", page=page, args={}, names=unit_names(page.items),
                           people=_people({s.author_id for s in page.items}), **_labels())
