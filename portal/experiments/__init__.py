"""Experiments: seeded holdouts among contactable customers, outcomes from sale lines, lift with intervals.

Public API (also in ``portal.toolkit``; docs/platform/experiments.md):

- :func:`create_experiment`, :func:`get_experiment`, :func:`attach_source`, :func:`draw`,
  :func:`contactable`, :func:`assignments`, :func:`arm_of`, :func:`treatment_ids`;
- the global control group: :func:`ensure_global_control`, :func:`in_global_control`;
- :func:`outcomes`, :func:`lift`, :func:`freeze`, :func:`frozen_results`, :func:`did`,
  :func:`power_check`, :func:`power_warning`, :func:`required_sizes`;
- :func:`for_experiment` (extractions leave the experiment's holdout out);
- the result panel macro ``macros/experiment_result.html``.
"""

from __future__ import annotations

from flask import Flask

from .assignment import (
    STRATA,
    ExperimentError,
    arm_of,
    assignments,
    attach_source,
    contactable,
    create_experiment,
    draw,
    ensure_global_control,
    get_experiment,
    global_control_share,
    in_global_control,
    treatment_ids,
)
from .models import Experiment
from .policy import for_experiment, holdout_check
from .results import LiftResult, Outcomes, did, freeze, frozen_results, lift, outcomes, power_warning
from .stats import DidResult, power_check, required_sizes
from .views import bp

__all__ = [
    "STRATA", "DidResult", "Experiment", "ExperimentError", "LiftResult", "Outcomes", "arm_of", "assignments",
    "attach_source", "bp", "contactable", "create_experiment", "did", "draw", "ensure_global_control",
    "for_experiment", "freeze", "frozen_results", "get_experiment", "global_control_share", "holdout_check",
    "in_global_control", "init_app", "lift", "outcomes", "power_check", "power_warning", "required_sizes",
    "treatment_ids",
]


def init_app(app: Flask) -> None:
    """Defaults for the settings, checked once at start-up (a bad share fails loudly, not at send time)."""
    app.config.setdefault("PORTAL_GLOBAL_CONTROL_SHARE", 0.0)
    app.config.setdefault("PORTAL_GLOBAL_CONTROL_SALT", "")
    with app.app_context():
        try:
            global_control_share()
        except ExperimentError as exc:
            raise RuntimeError(f"PORTAL_GLOBAL_CONTROL_SHARE: {exc}") from exc
