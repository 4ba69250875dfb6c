"""Segment builder, saved segments and extractions (pages): thin handlers over the services.

The builder works without JavaScript (the rules as a JSON textarea, a Preview button that counts
on the server); ``static/js/segment_builder.js`` turns the textarea into nested groups of
condition rows and asks ``POST /analytics/segments/preview`` (JSON, CSRF token in the
``X-CSRFToken`` header) for the live count.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from .. import audit
from ..customers.labels import label
from ..exports import ExportTooLarge, logged_export
from ..extensions import db
from ..models import EXTRACTION_STATUSES
from ..pagination import paginate, parse_page_args
from ..security import permission_required
from . import bp
from . import extraction as ex
from . import segment_store as store
from .forms import EMPTY_RULES, ExtractionForm, SegmentForm, channel_choices, parse_rules, pretty
from .segments import RuleError, count_segment, field_catalog, op_labels
from .suppression import contact_cooldown_days, reason_labels

SEGMENTS_PER_PAGE = 20


# -- saved segments ---------------------------------------------------------------------------------------


@bp.get("/segments")
@permission_required(store.PERMISSION)
def segments():
    """Saved segments; a count is computed only when asked (``?count=<id>`` or ``?count=all``)."""
    page_no, _per_page = parse_page_args(request.args)
    page = paginate(store.visible_stmt(current_user), page_no, SEGMENTS_PER_PAGE)
    wanted = request.args.get("count", "")
    counts: dict[int, int | str] = {}
    for seg in page.items:
        if wanted == "all" or wanted == str(seg.id):
            try:
                counts[seg.id] = count_segment(current_user, seg.rules)
            except RuleError:
                counts[seg.id] = _("rules no longer valid")
    return render_template("analytics/segment_list.html", page=page, counts=counts, delete_form=FlaskForm(),
                           sees_all=store.sees_all(current_user))


def _rule_errors(exc: RuleError) -> dict[str, str]:
    return exc.fields()


def _builder(form: SegmentForm, segment: Any, status: int = 200, preview: Any = None,
             errors: dict[str, str] | None = None):
    return render_template(
        "analytics/segment_form.html", form=form, segment=segment, preview=preview, errors=errors or {},
        builder={"fields": field_catalog(current_user), "ops": op_labels(),
                 "preview_url": url_for("analytics.segment_preview"),
                 "messages": {"matching": _("customers match"), "contactable": _("may be contacted on this channel"),
                              "checking": _("Counting…"),
                              "invalid": _("Fix the marked conditions to see the count."),
                              "failed": _("The count could not be computed; use the Preview button."),
                              "all": _("All conditions (AND)"), "any": _("Any condition (OR)"), "not": _("None of (NOT)"),
                              "add_condition": _("Add condition"), "add_group": _("Add group"), "remove": _("Remove"),
                              "field": _("Field"), "op": _("Operator"), "value": _("Value"), "days": _("days"),
                              "from": _("from"), "to": _("to"), "any_time": _("any time"),
                              "choose": _("Choose…"), "yes": _("yes"), "no": _("no"),
                              "everyone": _("No conditions: every customer in your scope.")}},
        channels=channel_choices(_("No channel (count only)")), reasons=reason_labels(preview.channel)
        if preview is not None and preview.channel else {},
    ), status


def _preview_into(form: SegmentForm) -> tuple[Any, dict[str, str]]:
    rules, error = parse_rules(form.rules.data)
    if error:
        return None, {"rules": error}
    channel = form.channel.data or None
    try:
        result = ex.preview(current_user, rules, channel, with_any=True)
    except RuleError as exc:
        return None, _rule_errors(exc)
    if result.sample:
        audit.log_access("list", count=len(result.sample), detail=f"segment preview channel={channel}")
    db.session.commit()
    return result, {}


def _save(form: SegmentForm, segment: Any) -> tuple[Any, dict[str, str]]:
    rules, error = parse_rules(form.rules.data)
    if error:
        return None, {"rules": error}
    data = {"name": form.name.data, "description": form.description.data, "rules": rules}
    try:
        saved = store.update_segment(current_user, segment, data) if segment else store.create_segment(current_user, data)
    except RuleError as exc:
        db.session.rollback()
        return None, _rule_errors(exc)
    db.session.commit()
    return saved, {}


def _segment_page(segment: Any):
    form = SegmentForm(obj=None)
    form.channel.choices = channel_choices(_("No channel (count only)"))
    if request.method == "GET":
        if segment is not None:
            form.name.data, form.description.data, form.rules.data = segment.name, segment.description, pretty(segment.rules)
        return _builder(form, segment)
    if not form.validate_on_submit():
        return _builder(form, segment, 400, errors={k: " ".join(v) for k, v in form.errors.items()})
    if request.form.get("action") == "save":
        saved, errors = _save(form, segment)
        if saved is None:
            return _builder(form, segment, 400, errors=errors)
        flash(_("Segment “%(name)s” saved.", name=saved.name), "success")
        return redirect(url_for("analytics.segments"))
    result, errors = _preview_into(form)
    return _builder(form, segment, 200 if result is not None else 400, preview=result, errors=errors)


@bp.route("/segments/new", methods=["GET", "POST"])
@permission_required(store.PERMISSION)
def segment_new():
    return _segment_page(None)


@bp.route("/segments/<segment_id>", methods=["GET", "POST"])
@permission_required(store.PERMISSION)
def segment_edit(segment_id: str):
    return _segment_page(store.segment_or_404(current_user, segment_id))


@bp.post("/segments/<segment_id>/delete")
@permission_required(store.PERMISSION)
def segment_delete(segment_id: str):
    seg = store.segment_or_404(current_user, segment_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    name = seg.name
    store.delete_segment(current_user, seg)
    db.session.commit()
    flash(_("Segment “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("analytics.segments"))


@bp.post("/segments/preview")
@permission_required(store.PERMISSION)
def segment_preview():
    """The builder's live count (JSON; CSRF token in ``X-CSRFToken``). No sample: nothing personal."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if not isinstance(data, dict) or set(data) - {"rules", "channel"}:
        return jsonify({"error": "bad_request", "message": _("Send {\"rules\": …, \"channel\": …} as JSON.")}), 400
    try:
        result = ex.preview(current_user, data.get("rules"), data.get("channel") or None, with_sample=False)
    except RuleError as exc:
        return jsonify({"error": "validation_failed", "message": _("Some conditions are not valid."),
                        "fields": exc.fields()}), 422
    body = result.as_dict(sample=False)
    if result.channel:
        body["labels"] = {k: str(v) for k, v in reason_labels(result.channel).items()}
    return jsonify(body)


# -- extractions ----------------------------------------------------------------------------------------------


def _extraction_form() -> ExtractionForm:
    form = ExtractionForm()
    segs = db.session.execute(store.visible_stmt(current_user).limit(500)).scalars().all()
    form.segment_id.choices = [("", _("— the rules below —"))] + [(str(s.id), s.name) for s in segs]
    form.channel.choices = channel_choices(_("Choose…"))
    return form


def _chosen_rules(form: ExtractionForm) -> tuple[Any, Any, dict[str, str]]:
    """(segment, rules, errors) from the form: a chosen saved segment wins over the textarea."""
    if form.segment_id.data:
        seg = store.segment_or_404(current_user, form.segment_id.data)
        return seg, seg.rules, {}
    rules, error = parse_rules(form.rules.data)
    return None, rules, ({"rules": error} if error else {})


@bp.route("/extractions/new", methods=["GET", "POST"])
@permission_required(ex.PERMISSION)
def extraction_new():
    form = _extraction_form()
    preview, errors = None, {}
    if request.method == "GET":
        seg_arg = request.args.get("segment", "")
        if seg_arg:
            seg = store.segment_or_404(current_user, seg_arg)
            form.segment_id.data, form.rules.data = str(seg.id), pretty(seg.rules)
        return _extraction_page(form, None, {})
    if not form.validate_on_submit():
        return _extraction_page(form, None, {k: " ".join(v) for k, v in form.errors.items()}, 400)
    seg, rules, errors = _chosen_rules(form)
    if errors:
        return _extraction_page(form, None, errors, 400)
    if seg is not None:
        form.rules.data = pretty(seg.rules)
    channel = form.channel.data or None
    try:
        if request.form.get("action") == "create":
            ext = ex.create(current_user, rules, channel, form.name.data, seg)
            ext_id = ext.id
            db.session.commit()
            flash(_("Target list created: %(n)s customers.", n=f"{ext.included:,}"), "success")
            return redirect(url_for("analytics.extraction_detail", extraction_id=ext_id))
        preview = ex.preview(current_user, rules, channel or "", with_any=True)
    except RuleError as exc:
        db.session.rollback()
        return _extraction_page(form, None, exc.fields(), 400)
    if preview.sample:
        audit.log_access("list", count=len(preview.sample), detail=f"extraction preview channel={channel}")
    db.session.commit()
    return _extraction_page(form, preview, {})


def _extraction_page(form: ExtractionForm, preview: Any, errors: dict[str, str], status: int = 200):
    labels = reason_labels(preview.channel) if preview is not None else {}
    return render_template("analytics/extraction_new.html", form=form, preview=preview, errors=errors,
                           labels=labels, empty_rules=EMPTY_RULES), status


@bp.get("/extractions")
@permission_required(ex.PERMISSION)
def extractions():
    page_no, per_page = parse_page_args(request.args)
    mine = request.args.get("mine") == "1"
    status = request.args.get("status") if request.args.get("status") in EXTRACTION_STATUSES else ""
    page = ex.extraction_page(current_user, page_no, per_page, mine=mine, status=status or None)
    nav_args = {k: v for k, v in (("mine", "1" if mine else ""), ("status", status)) if v}
    return render_template("analytics/extraction_list.html", page=page, mine=mine, status=status,
                           statuses=ex.STATUS_LABELS, places=ex.places(page.items), nav_args=nav_args)


@bp.get("/extractions/<extraction_id>")
@permission_required(ex.PERMISSION)
def extraction_detail(extraction_id: str):
    ext = ex.extraction_or_404(current_user, extraction_id)
    page_no, per_page = parse_page_args(request.args)
    page = ex.members_page(current_user, ext, page_no, per_page)
    html = render_template(
        "analytics/extraction_detail.html", ext=ext, page=page, fields=ex.member_fields(ext.channel),
        rows=[ex.member_dict(r, ext.channel) for r in page.items], withdrawn=ex.withdrawn_count(current_user, ext),
        labels=reason_labels(ext.channel), channel_label=label("channel", ext.channel),
        status_label=ex.status_label(ext.status), cooldown_days=contact_cooldown_days(),
        action_form=FlaskForm(),
    )
    audit.log_access("list", ext.id, count=len(page.items), object_type="extraction",
                     detail=f"extraction {ext.id} page={page_no}")
    db.session.commit()
    return html


@bp.post("/extractions/<extraction_id>/use")
@permission_required(ex.PERMISSION)
def extraction_use(extraction_id: str):
    """Mark a draft list used: the contact moment, from which its members are in cool-down."""
    ext = ex.extraction_or_404(current_user, extraction_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        gone = ex.mark_used(current_user, ext)
    except ex.StateError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("analytics.extraction_detail", extraction_id=extraction_id))
    db.session.commit()
    flash(_("Marked as used: its %(n)s customers are not contacted again on this channel for %(days)s days.",
            n=f"{ext.included:,}", days=contact_cooldown_days()), "success")
    if gone:
        flash(_("%(n)s customers were taken off the list: another list contacted them on this channel since.",
                n=f"{gone:,}"), "warning")
    return redirect(url_for("analytics.extraction_detail", extraction_id=ext.id))


@bp.post("/extractions/<extraction_id>/cancel")
@permission_required(ex.PERMISSION)
def extraction_cancel(extraction_id: str):
    ext = ex.extraction_or_404(current_user, extraction_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    was_used = ext.status == "used"
    try:
        ex.cancel(current_user, ext)
    except ex.StateError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("analytics.extraction_detail", extraction_id=extraction_id))
    db.session.commit()
    flash(_("List cancelled. Its customers stay in cool-down: they were contacted when it was used.")
          if was_used else _("List cancelled."), "success")
    return redirect(url_for("analytics.extraction_detail", extraction_id=ext.id))


@bp.get("/extractions/<extraction_id>/export.xlsx")
@bp.get("/extractions/<extraction_id>/export.csv")  # first: url_for builds the .csv path
@permission_required(ex.PERMISSION)
def extraction_export(extraction_id: str):
    """The list with the channel's contact fields; formula cells neutralized, the export access-logged."""
    fmt = "xlsx" if request.path.endswith(".xlsx") else "csv"
    ext = ex.extraction_or_404(current_user, extraction_id)
    if ext.status == "cancelled":
        flash(_("This list is cancelled: it cannot be exported any more."), "error")
        return redirect(url_for("analytics.extraction_detail", extraction_id=ext.id))
    count = ex.export_count(current_user, ext)
    header = [str(_field_label(f)) for f in ex.member_fields(ext.channel)]
    filename = f"target-list-{ext.id}-{ext.channel}-{date.today().isoformat()}.{fmt}"
    try:
        return logged_export(fmt, filename, header, lambda: ex.export_rows(current_user, ext), _("Target list"), count,
                             object_id=ext.id, object_type="extraction", detail=f"extraction {ext.id}.{fmt}")
    except ExportTooLarge:
        flash(_("This list does not fit in one Excel sheet; export CSV instead."), "error")
        return redirect(url_for("analytics.extraction_detail", extraction_id=ext.id))


def _field_label(name: str) -> Any:
    return {"id": "id", "code": _("Customer no."), "name": _("Name"), "phone": _("Phone"), "email": _("E-mail"),
            "address": _("Address"), "postal_code": _("Postal code")}[name]

