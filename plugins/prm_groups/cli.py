"""The add-on's commands (``flask portal prm_groups …``): ``radar`` prints the weak-category radar
(``radar.service.compute``, imported when the command runs), ``tick`` runs the programmes' and seminars' periodic
jobs once — for a cron line on a host without the task queue, and for a manual catch-up."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from portal.toolkit import db

#: Column headings of the radar table.
HEADINGS = ("group", "category", "n", "buyers", "rate", "benchmark", "95% limits", "99.8% limits", "flag")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _limits(pair: list[float] | None) -> str:
    return "—" if not pair else f"{_pct(pair[0])}–{_pct(pair[1])}"


def cell_row(cell: dict[str, Any]) -> list[str]:
    """One radar cell (``Cell.as_dict()``) as table columns."""
    flag = cell.get("flag")
    limits = cell.get("limits") or {}
    return [str(cell.get("group", "")), str(cell.get("category", "")), f"{int(cell.get('n') or 0):,}",
            f"{int(cell.get('buyers') or 0):,}", _pct(cell.get("rate")), _pct(cell.get("benchmark")),
            _limits(limits.get("p95")), _limits(limits.get("p998")),
            "insufficient data (n < 30)" if flag == "insufficient" else (flag or "—")]


def format_table(cells: list[dict[str, Any]]) -> list[str]:
    """The radar as fixed-width text lines, headings first."""
    table = [list(HEADINGS), *(cell_row(c) for c in cells)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADINGS))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]


def register(cli: click.Group) -> None:
    @cli.command("radar")
    @click.option("--end", help="Last day of the window (YYYY-MM-DD, Korean time; default today).")
    @click.option("--months", type=int, default=12, show_default=True, help="Length of the window in months.")
    @click.option("--group", "groups", multiple=True, help="Compare only these groups (codes; repeatable).")
    @click.option("--category", "categories", multiple=True, help="Report only these categories (codes; repeatable).")
    @click.option("--flagged", is_flag=True, help="Only the ranked gaps (alert and alarm), worst first.")
    @click.option("--json", "as_json", is_flag=True, help="Print the radar document as JSON.")
    def radar_cmd(end: str | None, months: int, groups: tuple[str, ...], categories: tuple[str, ...],
                  flagged: bool, as_json: bool) -> None:
        """Print the weak-category radar: per group and category, the share of active customers who
        bought in it, the other groups' rate, the exact binomial limits and the flag."""
        from .radar.service import RadarError, compute

        try:
            day = datetime.strptime(end, "%Y-%m-%d").date() if end else None
        except ValueError:
            raise click.BadParameter("use YYYY-MM-DD", param_hint="--end") from None
        try:
            result = compute(end=day, months=months, groups=list(groups) or None,
                             categories=list(categories) or None)
        except RadarError as exc:
            raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from None
        finally:
            db.session.rollback()  # read-only
        doc = result.as_dict()
        if as_json:
            click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        window = doc["window"]
        click.echo(f"Radar {window['start']} – {window['end']} ({window['months']} months)")
        cells = doc["gaps"] if flagged else doc["cells"]
        if not cells:
            click.echo("No flagged gap." if flagged else "No radar cells: no group has active customers in the window.")
            return
        for line in format_table(cells):
            click.echo(line)

    @cli.command("tick")
    def tick_cmd() -> None:
        """Run the add-on's periodic jobs once (programmes: run end → measuring; seminars: seat
        offers, reminders …). Each job is idempotent, so a second run does nothing new."""
        from portal.toolkit import run_now

        from .programmes.jobs import JOBS as PROGRAMMES
        from .seminars.jobs import JOBS as SEMINARS

        jobs = [*PROGRAMMES, *SEMINARS]
        if not jobs:
            click.echo("No periodic jobs to run.")
            return
        db.session.rollback()  # the runs write in their own transactions
        failed = 0
        for job in jobs:
            name = job["name"]
            try:
                result = run_now(name)
            except Exception as exc:  # noqa: BLE001  (report every job, then fail)
                failed += 1
                click.echo(f"{name}: failed: {type(exc).__name__}: {exc}", err=True)
                continue
            click.echo(f"{name}: {json.dumps(result, default=str, ensure_ascii=False) if result is not None else 'done'}")
        if failed:
            raise click.ClickException(f"{failed} job(s) failed.")
