"""Experiments and their one draw: seeded, stratified, exact holdouts among contactable customers,
and the stable company-wide control group.

The draw (:func:`draw`) — the rules add-ons rely on:

- **Among the contactable.** The caller passes the customers who could actually be contacted (after
  every suppression reason); :func:`contactable` computes that set from ``portal.contact``'s
  ``may_contact_many`` for a channel and purpose. A customer deferred by the night rule counts as
  contactable (deferred, not refused).
- **Exact counts.** Over the N customers drawn from, the holdout is exactly ``round(share × N)``
  (halves round up). With strata, each stratum of n_s customers first gets ``⌊share × n_s⌋``; the
  customers still owed go one each to the strata with the largest remainders ``share × n_s −
  ⌊share × n_s⌋`` (ties in a seeded random order) — largest-remainder allocation, so every stratum
  is within one customer of its exact share and the total is exact.
- **Seeded and order-free.** ``numpy.random.default_rng(seed)``: the strata in sorted order, each
  stratum's customer ids sorted, then permuted; the same seed and the same eligible set give the
  same assignment whatever order the ids came in.
- **Once.** A drawn experiment is never drawn again: a second :func:`draw` returns the stored counts
  unchanged and writes nothing. Customers who become eligible later are not part of it.
- **Global control.** With ``use_global_control``, members of the company-wide control group among
  the eligible get the arm ``control`` (never treatment) and are left out of the holdout count.

The global control group is Braze-style: a customer's bucket is a keyed hash of their id
(``PORTAL_GLOBAL_CONTROL_SALT``) in 0–9999, and :func:`ensure_global_control` adds everyone whose
bucket is below ``PORTAL_GLOBAL_CONTROL_SHARE × 10000`` and who is not a member yet. Members are
never removed, so the group is stable month to month and raising the share only adds customers.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.exc import IntegrityError

from ..db_utils import chunked, dialect_insert, is_postgres
from ..extensions import db
from ..models import Customer, CustomerScore, Partner, utcnow
from .models import Experiment, ExperimentAssignment, ExperimentSource, GlobalControl

MAX_HOLDOUT_SHARE = 0.5
MAX_GLOBAL_CONTROL_SHARE = 0.5
BUCKETS = 10_000
DEFAULT_SALT = "partner-portal-global-control"
_CHUNK = 5_000
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_SEED_MAX = 2**63 - 1


class ExperimentError(ValueError):
    """Bad input or an illegal state: ``errors`` maps a field path to a message; ``status`` is the
    HTTP status a view should answer (422 for bad values, 409 for a state conflict)."""

    def __init__(self, errors: dict[str, str], status: int = 422):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.status = status


# -- strata ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stratum:
    """A customer attribute a draw may stratify by: the SQL column and the outer joins it needs."""

    name: str
    column: Callable[[], ColumnElement[Any]]
    joins: Callable[[], list[tuple[Any, Any]]]


STRATA: dict[str, Stratum] = {
    "branch": Stratum("branch", lambda: Customer.branch_id, lambda: []),
    "partner": Stratum("partner", lambda: Customer.partner_id, lambda: []),
    "partner_group": Stratum("partner_group", lambda: Partner.group_id,
                             lambda: [(Partner, Partner.id == Customer.partner_id)]),
    "rfm_segment": Stratum("rfm_segment", lambda: CustomerScore.rfm_segment,
                           lambda: [(CustomerScore, CustomerScore.customer_id == Customer.id)]),
    "tier": Stratum("tier", lambda: Customer.tier, lambda: []),
    "gender": Stratum("gender", lambda: Customer.gender, lambda: []),
}


#: From this many ids on, one pass over every customer beats chunked ``IN`` look-ups.
_SCAN_FROM = 50_000


def _strata_of(ids: list[int], keys: Sequence[str]) -> dict[int, str]:
    """``customer id → "value|value"`` (``-`` for an empty value; ``""`` without keys) for the
    customers among ``ids`` that exist and were not erased on request; the others are left out.

    A large set is read in one streamed pass over ``customer`` (a million rows in a few seconds),
    a small one by chunked ``IN`` look-ups."""
    cols = [STRATA[k].column() for k in keys]
    joins: list[tuple[Any, Any]] = []
    for k in keys:
        for j in STRATA[k].joins():
            if all(j[0] is not have[0] for have in joins):
                joins.append(j)
    base = select(Customer.id, *cols)
    for target, on in joins:
        base = base.outerjoin(target, on)
    base = base.where(Customer.pseudonymized_at.is_(None))

    def key(row: Any) -> str:
        return "|".join("-" if v is None else str(v) for v in row[1:])[:200] if keys else ""

    out: dict[int, str] = {}
    if len(ids) >= _SCAN_FROM:
        # Streamed on the session's connection (Core rows, no ORM loading: 5x less time at 1M rows).
        db.session.flush()
        wanted = set(ids)
        for row in db.session.connection().execute(base.execution_options(yield_per=50_000)):
            if row[0] in wanted:
                out[row[0]] = key(row)
        return out
    for chunk in chunked(ids, _CHUNK):
        for row in db.session.execute(base.where(Customer.id.in_(chunk))):
            out[row[0]] = key(row)
    return out


def _insert_assignments(rows: list[tuple[int, int, str, str]]) -> None:
    """Bulk insert ``(experiment_id, customer_id, arm, stratum)``: COPY on PostgreSQL (a million rows
    in seconds, in the session's own transaction), executemany elsewhere."""
    if is_postgres():
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy("COPY experiment_assignment (experiment_id, customer_id, arm, stratum, "
                                           "merged) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((*r, False))
        return
    for chunk in chunked(rows, 10_000):
        db.session.execute(insert(ExperimentAssignment), [
            {"experiment_id": e, "customer_id": c, "arm": a, "stratum": k, "merged": False}
            for e, c, a, k in chunk])


# -- experiments -----------------------------------------------------------------------------------


def _share(value: Any, field: str, maximum: float) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = math.nan
    if isinstance(value, bool) or not math.isfinite(share) or not 0 <= share <= maximum:
        raise ExperimentError({field: _("must be a share between 0 and %(max)s (0–%(pct)s %%).",
                                        max=maximum, pct=int(maximum * 100))})
    return share


def create_experiment(owner_plugin: str, owner_ref: str, *, seed: int, holdout_share: float,
                      strata: Sequence[str] = (), use_global_control: bool = False) -> Experiment:
    """A new experiment for an add-on's object (one per ``(owner_plugin, owner_ref)``); not drawn yet.

    Messages the outbox sends with ``source=owner_plugin, source_object=owner_ref`` belong to it
    (more through :func:`attach_source`). Raises :class:`ExperimentError` (422) on bad values and
    (409) when the owner already has one. Adds to the session; the caller commits.
    """
    errors: dict[str, str] = {}
    owner_ref = owner_ref.strip() if isinstance(owner_ref, str) else owner_ref
    if not isinstance(owner_plugin, str) or not _NAME_RE.match(owner_plugin):
        errors["owner_plugin"] = _("must be a plugin name (lower-case letters, digits, _).")
    if not isinstance(owner_ref, str) or not owner_ref or len(owner_ref) > 120:
        errors["owner_ref"] = _("must be 1–120 characters.")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _SEED_MAX:
        errors["seed"] = _("must be a whole number from 0 to 2^63 − 1.")
    try:
        share = _share(holdout_share, "holdout_share", MAX_HOLDOUT_SHARE)
    except ExperimentError as exc:
        errors.update(exc.errors)
        share = 0.0
    keys = [strata] if isinstance(strata, str) else list(strata or ())
    unknown = [k for k in keys if k not in STRATA]
    if unknown or len(set(keys)) != len(keys):
        errors["strata"] = _("unknown or repeated stratum: %(names)s (known: %(known)s).",
                             names=", ".join(map(str, unknown or keys)), known=", ".join(STRATA))
    if errors:
        raise ExperimentError(errors)
    if db.session.scalar(select(Experiment.id).where(Experiment.owner_plugin == owner_plugin,
                                                     Experiment.owner_ref == owner_ref)) is not None:
        raise ExperimentError({"owner_ref": _("This object already has an experiment.")}, status=409)
    exp = Experiment(owner_plugin=owner_plugin, owner_ref=owner_ref, seed=seed, holdout_share=share,
                     strata=keys, use_global_control=bool(use_global_control), status="created", created_at=utcnow())
    try:
        with db.session.begin_nested():  # a concurrent create of the same owner loses cleanly
            db.session.add(exp)
            db.session.flush()
            db.session.add(ExperimentSource(source=owner_plugin, source_object=exp.owner_ref, experiment_id=exp.id))
            db.session.flush()
    except IntegrityError as exc:
        raise ExperimentError({"owner_ref": _("This object already has an experiment.")}, status=409) from exc
    return exp


def get_experiment(owner_plugin: str, owner_ref: str) -> Experiment | None:
    """The experiment of an add-on's object, or None."""
    return db.session.scalar(select(Experiment).where(Experiment.owner_plugin == owner_plugin,
                                                      Experiment.owner_ref == owner_ref))


def attach_source(experiment: Experiment, source: str, source_object: str) -> None:
    """Messages with this ``(source, source_object)`` also belong to ``experiment`` (a programme's
    steps sent as another add-on's campaigns): its holdout gets none of them. Idempotent."""
    if not source or not source_object or len(source) > 60 or len(source_object) > 120:
        raise ExperimentError({"source": _("source (≤ 60) and source_object (≤ 120) are required.")})
    if db.session.get(ExperimentSource, (source, source_object, experiment.id)) is None:
        db.session.add(ExperimentSource(source=source, source_object=source_object, experiment_id=experiment.id))
        db.session.flush()


def _clean_ids(ids: Iterable[Any]) -> list[int]:
    out = set()
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int | str):
            raise ExperimentError({"eligible_customer_ids": _("must be customer ids (whole numbers).")})
        try:
            out.add(int(i))
        except ValueError as exc:
            raise ExperimentError({"eligible_customer_ids": _("must be customer ids (whole numbers).")}) from exc
    return sorted(out)


def allocate(sizes: dict[str, int], share: float, rng: Any) -> dict[str, int]:
    """Holdout per stratum by largest remainder: total exactly round-half-up(share × N), each
    stratum ⌊share × n⌋ or ⌈share × n⌉; ties between equal remainders in ``rng``'s order."""
    exact_share = Fraction(str(share))
    keys = sorted(sizes)
    tiebreak = rng.random(len(keys)) if keys else []
    total_n = sum(sizes.values())
    total = math.floor(exact_share * total_n + Fraction(1, 2))
    quota = {k: math.floor(exact_share * sizes[k]) for k in keys}
    left = total - sum(quota.values())
    order = sorted(range(len(keys)), key=lambda i: (-(exact_share * sizes[keys[i]] - quota[keys[i]]), tiebreak[i]))
    for i in order[:left]:
        quota[keys[i]] += 1
    return quota


def draw(experiment: Experiment, eligible_customer_ids: Iterable[int]) -> dict[str, int]:
    """Assign the eligible customers once: ``{"treatment": n, "holdout": n, "control": n}``.

    See the module docstring for the rules. Raises :class:`ExperimentError` when there is nobody
    to draw from. Writes in the caller's transaction (bulk insert); the caller commits.
    """
    import numpy as np

    exp = db.session.execute(select(Experiment).where(Experiment.id == experiment.id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one()
    if exp.drawn_at is not None:
        return dict(exp.drawn_counts or {})
    ids = _clean_ids(eligible_customer_ids)
    strata = _strata_of(ids, exp.strata or [])  # only real customers, not erased ones
    ids = [i for i in ids if i in strata]
    if not ids:
        raise ExperimentError({"eligible_customer_ids": _("There are no eligible customers to draw from.")})
    control: set[int] = set()
    if exp.use_global_control:
        ensure_global_control(ids)
        control = in_global_control(ids)
    by_stratum: dict[str, list[int]] = {}
    for cid in ids:  # ``ids`` is sorted: each stratum's ids are too
        if cid not in control:
            by_stratum.setdefault(strata[cid], []).append(cid)
    rng = np.random.default_rng(exp.seed)
    quota = allocate({k: len(v) for k, v in by_stratum.items()}, exp.holdout_share, rng)
    rows: list[tuple[int, int, str, str]] = []
    held = 0
    for key in sorted(by_stratum):
        members = np.asarray(by_stratum[key], dtype=np.int64)
        perm = rng.permutation(len(members))
        hold = set(members[perm[:quota[key]]].tolist())
        held += len(hold)
        rows.extend((exp.id, c, "holdout" if c in hold else "treatment", key) for c in members.tolist())
    rows.extend((exp.id, c, "control", "") for c in sorted(control))
    _insert_assignments(rows)
    counts = {"treatment": len(rows) - held - len(control), "holdout": held, "control": len(control)}
    exp.drawn_counts, exp.drawn_at, exp.status = counts, utcnow(), "drawn"
    db.session.flush()
    return counts


def contactable(customer_ids: Iterable[int], channel: str, purpose: str = "marketing",
                at: datetime | None = None) -> list[int]:
    """The customers among ``customer_ids`` who may be contacted on ``channel`` for ``purpose``
    (``portal.contact.may_contact_many``; a night-rule deferral counts as contactable), sorted."""
    from ..contact import may_contact_many

    ids = _clean_ids(customer_ids)
    out: list[int] = []
    for chunk in chunked(ids, 10_000):
        verdicts = may_contact_many(chunk, channel, purpose, at)
        out.extend(i for i, v in verdicts.items()
                   if getattr(v, "allowed", False) or getattr(v, "deferred_until", None) is not None)
    return sorted(out)


def assignments(experiment: Experiment, customer_ids: Iterable[int]) -> dict[int, str]:
    """``customer id → arm`` for the given customers (merged-away records left out)."""
    ids = _clean_ids(customer_ids)
    out: dict[int, str] = {}
    for chunk in chunked(ids, _CHUNK):
        rows = db.session.execute(select(ExperimentAssignment.customer_id, ExperimentAssignment.arm).where(
            ExperimentAssignment.experiment_id == experiment.id, ExperimentAssignment.merged.is_(False),
            ExperimentAssignment.customer_id.in_(chunk)))
        out.update({r[0]: r[1] for r in rows})
    return out


def arm_of(experiment: Experiment, customer_id: int) -> str | None:
    """The customer's arm in ``experiment`` (None when not part of it)."""
    return assignments(experiment, [customer_id]).get(int(customer_id))


def treatment_ids(experiment: Experiment) -> list[int]:
    """The treatment arm's customer ids, sorted (what an add-on sends to)."""
    return list(db.session.scalars(select(ExperimentAssignment.customer_id).where(
        ExperimentAssignment.experiment_id == experiment.id, ExperimentAssignment.arm == "treatment",
        ExperimentAssignment.merged.is_(False)).order_by(ExperimentAssignment.customer_id)))


# -- the global control group ----------------------------------------------------------------------


def global_control_share() -> float:
    """``PORTAL_GLOBAL_CONTROL_SHARE`` (0 = no global control group; default 0)."""
    return _share(current_app.config.get("PORTAL_GLOBAL_CONTROL_SHARE", 0.0) or 0.0,
                  "PORTAL_GLOBAL_CONTROL_SHARE", MAX_GLOBAL_CONTROL_SHARE)


def global_control_bucket(customer_id: int, salt: str | None = None) -> int:
    """The customer's stable bucket 0–9999: keyed BLAKE2b of the id with the company salt."""
    key = (salt if salt is not None else current_app.config.get("PORTAL_GLOBAL_CONTROL_SALT") or DEFAULT_SALT)
    digest = hashlib.blake2b(str(int(customer_id)).encode(), key=key.encode()[:64], digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def ensure_global_control(customer_ids: Iterable[int] | None = None) -> int:
    """Add to the global control group every customer (or every one of ``customer_ids``) whose
    bucket is below the share and who is not a member yet; returns how many joined.

    Set-based: ids are read in one pass (a million in a couple of seconds), hashed in Python,
    and the new members inserted in bulk with ``ON CONFLICT DO NOTHING`` (safe beside a concurrent
    run). Members are never removed. Writes in the caller's transaction.
    """
    share = global_control_share()
    threshold = round(share * BUCKETS)
    if threshold <= 0:
        return 0
    salt = current_app.config.get("PORTAL_GLOBAL_CONTROL_SALT") or DEFAULT_SALT
    if customer_ids is None:
        stmt = select(Customer.id).where(Customer.pseudonymized_at.is_(None),
                                         ~select(GlobalControl.customer_id).where(
                                             GlobalControl.customer_id == Customer.id).exists())
        candidates: Iterable[int] = db.session.scalars(stmt.execution_options(yield_per=50_000))
    else:
        candidates = _clean_ids(customer_ids)
    now = utcnow()
    new = []
    for cid in candidates:
        bucket = global_control_bucket(cid, salt)
        if bucket < threshold:
            new.append({"customer_id": cid, "bucket": bucket, "assigned_at": now})
    if customer_ids is not None and new:  # drop ids that are not customers (the FK would refuse them)
        known: set[int] = set()
        ids = [r["customer_id"] for r in new]
        for chunk in chunked(ids, _CHUNK):
            known.update(db.session.scalars(select(Customer.id).where(Customer.id.in_(chunk))))
        new = [r for r in new if r["customer_id"] in known]
    if not new:
        return 0
    before = global_control_size()
    for chunk in chunked(new, 10_000):
        db.session.execute(dialect_insert(GlobalControl).on_conflict_do_nothing(), list(chunk))
    return global_control_size() - before


def in_global_control(customer_ids: Iterable[int]) -> set[int]:
    """The members of the global control group among ``customer_ids``."""
    ids = _clean_ids(customer_ids)
    if len(ids) >= _SCAN_FROM:
        return set(db.session.scalars(select(GlobalControl.customer_id))) & set(ids)
    out: set[int] = set()
    for chunk in chunked(ids, _CHUNK):
        out.update(db.session.scalars(select(GlobalControl.customer_id).where(
            GlobalControl.customer_id.in_(chunk))))
    return out


def global_control_size() -> int:
    return int(db.session.scalar(select(func.count()).select_from(GlobalControl)) or 0)
