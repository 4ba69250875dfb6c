"""Verified results: a story linked to a measured campaign (cem_channels) or programme (prm_groups)
shows the result block copied from the owner's results document — never typed by a person.

The block is copied, not referenced: the story keeps showing the figures it was published with
even when the campaign's add-on is switched off. Its mark says how far to trust them:

- ``verified`` — the campaign/programme is closed and its snapshot frozen (the figures never
  change again, so :func:`refresh_result` leaves a verified block alone);
- ``interim`` — it is still running or measuring (the daily job re-reads it until it freezes);
- ``self_reported`` — no link: the author's own figures in ``result_text``.

Both add-ons are reached only through their hookspecs (``cem_campaign_summary`` +
``cem_campaign_result``, ``prm_programme_result``): None means unknown, out of the actor's scope, or
the add-on is not active — all the same answer, 422 at ``campaign_id`` / ``programme_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from portal.toolkit import plugin_hook, utcnow

from ..errors import StoryError
from ..models import INTERIM, SELF_REPORTED, VERIFIED, KsStory

#: Story fields a person can never write: the API/forms refuse them (422 read-only).
READ_ONLY_FIELDS = ("result", "result_mark", "result_checked_at")
#: The outcome every linked result measures: buyers in the window, treatment against the holdout.
OUTCOME = "purchase_rate"


def hook_call(name: str, **kwargs: Any) -> Any:
    """Call another add-on's hook; None when that add-on is not active — or not even loaded in this
    process (``PORTAL_PLUGINS`` without it: no hookspec of that name exists then)."""
    try:
        caller = plugin_hook(name)
    except AttributeError:
        return None
    if not caller.get_hookimpls():
        return None
    return caller(**kwargs)


def _ident(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**31 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        return _ident(int(value))
    return None


def _num(value: Any, scale: float = 1.0, digits: int = 6) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value) * scale
    except (TypeError, ValueError):
        return None
    if out != out or out in (float("inf"), float("-inf")):
        return None
    return round(out, digits)


def _arms(arms: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for name in ("treatment", "holdout", "control"):
        arm = (arms or {}).get(name)
        if not isinstance(arm, Mapping):
            continue
        n, conversions = int(arm.get("n") or 0), int(arm.get("conversions") or 0)
        out.append({"arm": name, "n": n, "conversions": conversions,
                    "rate": _num(conversions / n) if n else None})
    return out


def campaign_block(doc: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    """The story's block from cem's results document (rates as fractions → percentage points)."""
    frozen = bool(doc.get("frozen"))
    return {
        "source": {"kind": "campaign", "id": summary.get("id") or doc.get("campaign_id"),
                   "name": summary.get("name"), "url": summary.get("url")},
        "state": doc.get("state") or summary.get("state"),
        "outcome": OUTCOME,
        "window": doc.get("window"),
        "arms": _arms(doc.get("arms")),
        "lift_pp": _num(doc.get("lift"), 100),
        "ci_pp": ([_num(doc.get("ci_low"), 100), _num(doc.get("ci_high"), 100)]
                  if doc.get("ci_low") is not None and doc.get("ci_high") is not None else None),
        "p_value": _num(doc.get("p_value"), digits=12),
        "verdict": doc.get("verdict"),
        "method": "newcombe+score",
        "frozen": frozen,
        "frozen_at": summary.get("frozen_at") if frozen else None,
    }


def programme_block(doc: Mapping[str, Any], programme_id: int, name: str | None = None,
                    url: str | None = None) -> dict[str, Any]:
    """The story's block from prm's results document (its holdout block is already in pp)."""
    holdout = doc.get("holdout") if isinstance(doc.get("holdout"), Mapping) else {}
    frozen = bool(doc.get("frozen"))
    lo, hi = holdout.get("ci_low"), holdout.get("ci_high")
    final = doc.get("final") if isinstance(doc.get("final"), Mapping) else {}
    return {
        "source": {"kind": "programme", "id": programme_id, "name": name or f"#{programme_id}",
                   "url": url or f"/prm/programmes/{programme_id}/results"},
        "state": doc.get("state"),
        "outcome": OUTCOME,
        "window": doc.get("window"),
        "arms": _arms(holdout.get("arms")),
        "lift_pp": _num(holdout.get("lift")),
        "ci_pp": [_num(lo), _num(hi)] if lo is not None and hi is not None else None,
        "p_value": _num(holdout.get("p_value"), digits=12),
        "verdict": doc.get("verdict"),
        "verdict_text": doc.get("verdict_text"),
        "method": holdout.get("method") or "newcombe+score",
        "frozen": frozen,
        "frozen_at": (final.get("computed_at") or doc.get("computed_at")) if frozen else None,
    }


def _mark(block: Mapping[str, Any]) -> str:
    return VERIFIED if block.get("frozen") else INTERIM


def read_campaign(campaign_id: int, actor: Any, *, scoped: bool = True) -> dict[str, Any] | None:
    """The block of campaign ``campaign_id`` as ``actor`` may see it (``scoped=False``: the story
    already cites it); None when unknown, unseen or cem_channels is off."""
    summary = hook_call("cem_campaign_summary", ref=campaign_id, actor=actor if scoped else None)
    if not summary:
        return None
    doc = hook_call("cem_campaign_result", ref=campaign_id)
    return campaign_block(doc, summary) if doc else None


def read_programme(programme_id: int, *, name: str | None = None, url: str | None = None,
                   actor: Any = None, scoped: bool = False) -> dict[str, Any] | None:
    """The block of programme ``programme_id``; with ``scoped``, only when ``actor`` may see it
    (prm_groups' ``prm_programme_summary``: HQ all, a group's leaders their own group's)."""
    summary = hook_call("prm_programme_summary", programme_id=programme_id, actor=actor if scoped else None)
    if scoped and not summary:
        return None
    if summary:
        name, url = name or summary.get("name"), url or summary.get("url")
    doc = hook_call("prm_programme_result", programme_id=programme_id)
    return programme_block(doc, programme_id, name, url) if doc else None


def _apply(story: KsStory, block: dict[str, Any] | None) -> bool:
    mark = SELF_REPORTED if block is None else _mark(block)
    changed = story.result != block or story.result_mark != mark
    story.result, story.result_mark = block, mark
    story.result_checked_at = utcnow()
    return changed


def link_result(story: KsStory, *, campaign_id: int | None = None, programme_id: int | None = None,
                actor: Any = None) -> None:
    """Link a story to a measured campaign or programme and copy its result block (StoryError on an
    unknown or unseen campaign/programme).

    ``actor`` must see the campaign (cem's scope: branch staff their branch's, leaders their
    group's, HQ all); ``actor`` None is the system (the programme hand-off). A programme likewise
    (prm's scope: HQ all, a group's leaders their own group's). Both ids None unlinks (the figures become self-reported again).
    Writes in the caller's transaction; nothing is written on a refusal."""
    if campaign_id is not None and programme_id is not None:
        raise StoryError({"campaign_id": _("Link either a campaign or a programme, not both.")}, 422)
    if campaign_id is None and programme_id is None:
        story.campaign_id = story.programme_id = None
        _apply(story, None)
        return
    if campaign_id is not None:
        ident = _ident(campaign_id)
        block = read_campaign(ident, actor, scoped=actor is not None) if ident else None
        if block is None:
            raise StoryError({"campaign_id": _("No campaign with this number that you may see.")}, 422)
        story.campaign_id, story.programme_id = ident, None
    else:
        ident = _ident(programme_id)
        block = read_programme(ident, actor=actor, scoped=actor is not None) if ident else None
        if block is None:
            raise StoryError({"programme_id": _("No programme with this number that you may see.")}, 422)
        story.campaign_id, story.programme_id = None, ident
    _apply(story, block)


def refresh_result(story: KsStory) -> bool:
    """Re-read the linked result (interim → verified once frozen); True when it changed. A verified
    block is final and not re-read; a link whose owner no longer answers keeps its last block."""
    if story.result_mark == VERIFIED and story.result:
        return False
    block: dict[str, Any] | None = None
    if story.campaign_id is not None:
        block = read_campaign(story.campaign_id, None, scoped=False)
    elif story.programme_id is not None:
        source = (story.result or {}).get("source") or {}
        block = read_programme(story.programme_id, name=source.get("name"), url=source.get("url"))
    else:
        return _apply(story, None) if story.result is not None else False
    if block is None:
        return False
    return _apply(story, block)


def format_pp(value: float | None, digits: int = 1, sign: bool = True) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def format_p(p: float | None) -> str:
    if p is None:
        return "–"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def lift_label(block: Mapping[str, Any]) -> str | None:
    """``+8.1 pp [5.07, 11.13]`` (lift with one decimal, its 95 % interval with two)."""
    lift = block.get("lift_pp")
    if lift is None:
        return None
    ci = block.get("ci_pp")
    text = f"{format_pp(lift)} pp"
    if ci and ci[0] is not None and ci[1] is not None:
        text += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    return text


def result_block(story: KsStory) -> dict[str, Any]:
    """What the story shows as its result: ``{"mark": "verified"|"interim"|"self_reported", ...}``:
    the copied block (``source``, ``arms``, ``lift_pp``, ``ci_pp``, ``p_value``, ``verdict``,
    ``frozen_at`` …) plus ``lift_label`` / ``p_label`` for pages, ``text`` (the author's own
    figures) and ``read_only`` (always True: no form or API writes the block)."""
    block: dict[str, Any] = dict(story.result or {})
    out: dict[str, Any] = {"mark": story.result_mark if story.result else SELF_REPORTED,
                           "text": story.result_text, "read_only": True, **block}
    out["checked_at"] = story.result_checked_at.isoformat(timespec="seconds") + "Z" \
        if story.result_checked_at else None
    if block:
        out["lift_label"] = lift_label(block)
        out["p_label"] = format_p(block.get("p_value"))
    return out


def refuse_read_only(data: Mapping[str, Any]) -> None:
    """For the stories API/forms: 422 at each read-only result field sent (KS-5: the verified
    figures cannot be edited)."""
    sent = [k for k in READ_ONLY_FIELDS if k in data]
    if sent:
        raise StoryError({k: _("Read-only: the result is copied from the linked campaign or programme.")
                          for k in sent}, 422)
