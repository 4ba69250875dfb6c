"""HQ's channel pages (``cem.manage``): banned terms per category, SMS caller numbers, KakaoTalk
알림톡 templates, the 080 opt-out file and the inbound-reply review queue. Thin handlers over the
tables and the consent-lifecycle services; every change is audited in its own transaction."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from portal.toolkit import (
    audit,
    contains_ad_label,
    db,
    get_settings,
    normalize_phone,
    paginate,
    parse_page_args,
    permission_required,
)

from ..campaign_models import CemCampaignStep
from ..forms import (
    ActionForm,
    BannedTermForm,
    KakaoTemplateForm,
    OptoutUploadForm,
    SenderNumberForm,
    VerifyForm,
)
from ..models import KakaoTemplate, SenderNumber
from ..optout import OptoutFileError, ReplyError, decide_reply, import_optout_file
from ..optout_models import CemInboundReply, CemSuppressedNumber
from ..permissions import MANAGE
from ..voice_models import CemBannedTerm

bp = Blueprint("cem_admin", __name__, url_prefix="/manage/cem", template_folder="../templates")

MAX_UPLOAD = 10 * 1024 * 1024  # an 080 file of ~700,000 numbers; larger files go through the CLI
MAX_TERMS_UPLOAD = 1024 * 1024
SERVICE_NUMBER = re.compile(r"1[5-9]\d{2}-?\d{4}")  # 대표번호 (1588-1234): 8 digits


def sender_digits(raw: str) -> str | None:
    """A caller number as digits (``02-1588-1234`` → ``0215881234``, ``1588-1234`` → ``15881234``),
    or None when it cannot be a Korean caller number (8–11 digits)."""
    raw = (raw or "").strip()
    if SERVICE_NUMBER.fullmatch(raw):
        return raw.replace("-", "")
    return normalize_phone(raw)


def _on(day: date) -> datetime:
    return datetime.combine(day, time(0))


def _back(endpoint: str, **args: Any):
    return redirect(url_for(endpoint, **args))


@bp.get("/")
@permission_required(MANAGE)
def index():
    def count(*stmt: Any) -> int:
        return int(db.session.execute(select(func.count()).select_from(*stmt)).scalar_one())

    counts = {
        "terms": count(CemBannedTerm),
        "categories": int(db.session.execute(select(func.count(func.distinct(CemBannedTerm.category)))).scalar_one()),
        "senders": count(SenderNumber),
        "verified": int(db.session.execute(select(func.count()).where(SenderNumber.verified_at.is_not(None))
                                           .select_from(SenderNumber)).scalar_one()),
        "templates": count(KakaoTemplate),
        "approved": int(db.session.execute(select(func.count()).where(KakaoTemplate.approved_at.is_not(None))
                                           .select_from(KakaoTemplate)).scalar_one()),
        "suppressed": count(CemSuppressedNumber),
        "pending": int(db.session.execute(select(func.count()).where(CemInboundReply.status == "pending")
                                          .select_from(CemInboundReply)).scalar_one()),
    }
    return render_template("cem_channels/admin/index.html", counts=counts,
                           sms_sender=get_settings("cem_channels").get("sms_sender") or "")


# -- banned terms ---------------------------------------------------------------------------------


@bp.get("/banned-terms")
@permission_required(MANAGE)
def banned_terms(form: BannedTermForm | None = None, status: int = 200):
    page_no, per_page = parse_page_args(request.args)
    category = (request.args.get("category") or "").strip()[:100]
    q = (request.args.get("q") or "").strip()[:100]
    stmt = select(CemBannedTerm)
    if category:
        stmt = stmt.where(CemBannedTerm.category == category)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(CemBannedTerm.term.like(like, escape="\\"), CemBannedTerm.note.like(like, escape="\\")))
    page = paginate(stmt.order_by(CemBannedTerm.category, CemBannedTerm.term), page_no, per_page)
    categories = list(db.session.scalars(select(CemBannedTerm.category).distinct().order_by(CemBannedTerm.category)))
    form = form or BannedTermForm(category=category or None)
    args = {k: v for k, v in (("category", category), ("q", q)) if v}
    return render_template("cem_channels/admin/banned_terms.html", page=page, form=form, categories=categories,
                           category=category, q=q, args=args, action=ActionForm()), status


@bp.post("/banned-terms")
@permission_required(MANAGE)
def banned_term_add():
    form = BannedTermForm()
    if not form.validate_on_submit():
        return banned_terms(form, 422)
    category, term = form.category.data.strip(), form.term.data.strip()
    exists = db.session.execute(select(CemBannedTerm.id).where(CemBannedTerm.category == category,
                                                               CemBannedTerm.term == term)).scalar_one_or_none()
    if exists:
        form.term.errors = [_("This term is already banned in %(category)s.", category=category)]
        return banned_terms(form, 422)
    row = CemBannedTerm(category=category, term=term, note=(form.note.data or "").strip() or None)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # added by someone else a moment ago
        db.session.rollback()
        form.term.errors = [_("This term is already banned in %(category)s.", category=category)]
        return banned_terms(form, 422)
    audit.record("cem.banned_term_added", row, summary=f"{category}: {term}")
    db.session.commit()
    flash(_("“%(term)s” is banned in %(category)s copy.", term=term, category=category), "success")
    return _back(".banned_terms", category=category)


@bp.post("/banned-terms/upload")
@permission_required(MANAGE)
def banned_terms_upload():
    """CSV ``category,term[,note]`` (UTF-8 or CP949, header optional): all rows or none."""
    if not ActionForm().validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    data = upload.read(MAX_TERMS_UPLOAD + 1) if upload else b""
    if not data.strip():
        flash(_("Choose a CSV file."), "error")
        return _back(".banned_terms")
    if len(data) > MAX_TERMS_UPLOAD:
        flash(_("The file is larger than 1 MB."), "error")
        return _back(".banned_terms")
    text = None
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        flash(_("The file is neither UTF-8 nor CP949 text."), "error")
        return _back(".banned_terms")
    rows: dict[tuple[str, str], str | None] = {}
    bad: list[str] = []
    for n, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if n == 1 and cells[0].lower() in ("category", "카테고리", "분류"):
            continue
        if len(cells) < 2 or not cells[0] or not cells[1] or len(cells[0]) > 100 or len(cells[1]) > 100:
            bad.append(str(n))
            continue
        rows[(cells[0], cells[1])] = (cells[2][:300] if len(cells) > 2 and cells[2] else None)
    if bad:
        flash(_("Nothing was imported: rows %(rows)s need a category and a term (at most 100 characters each).",
                rows=", ".join(bad[:20])), "error")
        return _back(".banned_terms")
    known = {(c, t) for c, t in db.session.execute(select(CemBannedTerm.category, CemBannedTerm.term).where(
        CemBannedTerm.category.in_({c for c, _t in rows})))}
    new = [CemBannedTerm(category=c, term=t, note=note) for (c, t), note in rows.items() if (c, t) not in known]
    db.session.add_all(new)
    audit.record("cem.banned_terms_imported", summary=_("%(new)s banned terms added, %(known)s already listed.",
                                                        new=len(new), known=len(rows) - len(new)))
    try:
        db.session.commit()
    except IntegrityError:  # another import added some of these terms meanwhile
        db.session.rollback()
        flash(_("Someone changed the list at the same time: nothing was imported. Try again."), "error")
        return _back(".banned_terms")
    flash(_("%(new)s banned terms added, %(known)s already listed.", new=len(new), known=len(rows) - len(new)),
          "success")
    return _back(".banned_terms")


@bp.post("/banned-terms/<int:term_id>/delete")
@permission_required(MANAGE)
def banned_term_delete(term_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    row = db.session.get(CemBannedTerm, term_id) or abort(404)
    audit.record("cem.banned_term_removed", row, summary=f"{row.category}: {row.term}")
    category = row.category
    db.session.delete(row)
    db.session.commit()
    flash(_("The term is no longer banned."), "success")
    return _back(".banned_terms", category=category)


# -- SMS caller numbers ---------------------------------------------------------------------------


@bp.get("/senders")
@permission_required(MANAGE)
def senders(form: SenderNumberForm | None = None, status: int = 200):
    rows = list(db.session.scalars(select(SenderNumber).order_by(SenderNumber.number)))
    return render_template("cem_channels/admin/senders.html", rows=rows, form=form or SenderNumberForm(),
                           verify=VerifyForm(formdata=None, verified_on=date.today()), action=ActionForm(),
                           sms_sender=get_settings("cem_channels").get("sms_sender") or ""), status


@bp.post("/senders")
@permission_required(MANAGE)
def sender_add():
    form = SenderNumberForm()
    if not form.validate_on_submit():
        return senders(form, 422)
    number = sender_digits(form.number.data)
    if number is None:
        form.number.errors = [_("Not a Korean caller number (8 to 11 digits, e.g. 02-1588-1234 or 1588-1234).")]
        return senders(form, 422)
    if db.session.execute(select(SenderNumber.id).where(SenderNumber.number == number)).scalar_one_or_none():
        form.number.errors = [_("This number is already registered.")]
        return senders(form, 422)
    row = SenderNumber(number=number, label=(form.label.data or "").strip(),
                       verified_at=_on(form.verified_on.data) if form.verified_on.data else None)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # added by someone else a moment ago
        db.session.rollback()
        form.number.errors = [_("This number is already registered.")]
        return senders(form, 422)
    audit.record("cem.sender_added", row, summary=f"{number} {row.label}".strip())
    db.session.commit()
    flash(_("Caller number %(number)s added.", number=number), "success")
    return _back(".senders")


@bp.post("/senders/<int:sender_id>/verify")
@permission_required(MANAGE)
def sender_verify(sender_id: int):
    row = db.session.get(SenderNumber, sender_id) or abort(404)
    form = VerifyForm()
    if not form.validate_on_submit():
        flash(_("Give the date the carrier registered the number."), "error")
        return _back(".senders")
    row.verified_at = _on(form.verified_on.data)
    audit.record("cem.sender_verified", row, summary=f"{row.number}: {form.verified_on.data.isoformat()}")
    db.session.commit()
    flash(_("%(number)s may send from now on.", number=row.number), "success")
    return _back(".senders")


@bp.post("/senders/<int:sender_id>/delete")
@permission_required(MANAGE)
def sender_delete(sender_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    row = db.session.get(SenderNumber, sender_id) or abort(404)
    if row.number == (get_settings("cem_channels").get("sms_sender") or ""):
        flash(_("%(number)s is the add-on's default SMS sender: choose another in the add-on settings first.",
                number=row.number), "error")
        return senders(None, 409)
    audit.record("cem.sender_removed", row, summary=row.number)
    db.session.delete(row)
    db.session.commit()
    flash(_("Caller number %(number)s removed: messages from it are refused from now on.", number=row.number),
          "success")
    return _back(".senders")


# -- KakaoTalk 알림톡 templates ---------------------------------------------------------------------


@bp.get("/kakao-templates")
@permission_required(MANAGE)
def kakao_templates(form: KakaoTemplateForm | None = None, status: int = 200):
    page_no, per_page = parse_page_args(request.args)
    page = paginate(select(KakaoTemplate).order_by(KakaoTemplate.code), page_no, per_page)
    return render_template("cem_channels/admin/kakao_templates.html", page=page, form=form or KakaoTemplateForm(),
                           verify=VerifyForm(formdata=None, verified_on=date.today()), action=ActionForm()), status


@bp.post("/kakao-templates")
@permission_required(MANAGE)
def kakao_template_add():
    form = KakaoTemplateForm()
    if not form.validate_on_submit():
        return kakao_templates(form, 422)
    code = form.code.data.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,60}", code):
        form.code.errors = [_("Letters, digits, '_', '.', ':' or '-' as Kakao gave it.")]
        return kakao_templates(form, 422)
    if contains_ad_label(form.body.data):
        form.body.errors = [_("알림톡 carries no advertising: remove the ad label (advertising goes as 친구톡).")]
        return kakao_templates(form, 422)
    if db.session.execute(select(KakaoTemplate.id).where(KakaoTemplate.code == code)).scalar_one_or_none():
        form.code.errors = [_("A template with this code exists.")]
        return kakao_templates(form, 422)
    row = KakaoTemplate(code=code, name=(form.name.data or "").strip(), body=form.body.data,
                        approved_at=_on(form.approved_on.data) if form.approved_on.data else None)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        form.code.errors = [_("A template with this code exists.")]
        return kakao_templates(form, 422)
    audit.record("cem.kakao_template_added", row, summary=code)
    db.session.commit()
    flash(_("Template %(code)s added.", code=code), "success")
    return _back(".kakao_templates")


@bp.post("/kakao-templates/<int:template_id>/approve")
@permission_required(MANAGE)
def kakao_template_approve(template_id: int):
    row = db.session.get(KakaoTemplate, template_id) or abort(404)
    form = VerifyForm()
    if not form.validate_on_submit():
        flash(_("Give the date Kakao approved the template."), "error")
        return _back(".kakao_templates")
    row.approved_at = _on(form.verified_on.data)
    audit.record("cem.kakao_template_approved", row, summary=f"{row.code}: {form.verified_on.data.isoformat()}")
    db.session.commit()
    flash(_("Template %(code)s may be sent as 알림톡.", code=row.code), "success")
    return _back(".kakao_templates")


@bp.post("/kakao-templates/<int:template_id>/delete")
@permission_required(MANAGE)
def kakao_template_delete(template_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    row = db.session.get(KakaoTemplate, template_id) or abort(404)
    used = int(db.session.execute(select(func.count()).select_from(CemCampaignStep)
                                  .where(CemCampaignStep.kakao_template == row.code)).scalar_one())
    if used:
        flash(_("Campaign steps use template %(code)s: it cannot be removed.", code=row.code), "error")
        return kakao_templates(None, 409)
    audit.record("cem.kakao_template_removed", row, summary=row.code)
    db.session.delete(row)
    db.session.commit()
    flash(_("Template %(code)s removed.", code=row.code), "success")
    return _back(".kakao_templates")


# -- 080 opt-out file -----------------------------------------------------------------------------


@bp.route("/optout", methods=["GET", "POST"])
@permission_required(MANAGE)
def optout():
    form = OptoutUploadForm()
    result, error, status = None, None, 200
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            error, status = _("The file is larger than 10 MB: import it with the command line."), 422
        elif not (upload.filename or "").lower().endswith((".csv", ".txt")):
            error, status = _("Upload a CSV or TXT file."), 422
        else:
            try:
                result = import_optout_file(data, actor=current_user, filename=(upload.filename or "")[:100])
            except OptoutFileError as exc:
                db.session.rollback()
                error, status = str(exc), 422
            else:
                db.session.commit()
    elif form.is_submitted():
        status = 422
    suppressed = int(db.session.execute(select(func.count()).select_from(CemSuppressedNumber)).scalar_one())
    return render_template("cem_channels/admin/optout.html", form=form, result=result, error=error,
                           suppressed=suppressed), status


# -- inbound replies ------------------------------------------------------------------------------


@bp.get("/replies")
@permission_required(MANAGE)
def replies():
    page_no, per_page = parse_page_args(request.args)
    status = request.args.get("status", "pending")
    if status not in ("pending", "opted_out", "kept", "ignored"):
        status = "pending"
    stmt = select(CemInboundReply).where(CemInboundReply.status == status)
    stmt = stmt.order_by(CemInboundReply.received_at.desc() if status != "pending" else CemInboundReply.received_at,
                         CemInboundReply.id)
    page = paginate(stmt, page_no, per_page)
    return render_template("cem_channels/admin/replies.html", page=page, status=status, action=ActionForm())


@bp.post("/replies/<int:reply_id>")
@permission_required(MANAGE)
def reply_decide(reply_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    if db.session.get(CemInboundReply, reply_id) is None:
        abort(404)
    decision = request.form.get("decision", "")
    try:
        reply = decide_reply(reply_id, decision, current_user)
    except ReplyError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(".replies")
    db.session.commit()
    flash(_("Opted out of SMS advertising.") if reply.status == "opted_out" else _("Kept: nothing changes."),
          "success")
    return _back(".replies")
