"""``flask portal branch_monitor kpis --month YYYY-MM [--snapshot]``: compute one month's KPIs and
care index by hand (the nightly job does the current and the previous month)."""

from __future__ import annotations

from typing import Any

import click


def register(cli: Any) -> None:
    @cli.command("kpis")
    @click.option("--month", "month_text", default=None, help="YYYY-MM (default: this Korean month)")
    @click.option("--snapshot", is_flag=True, help="First take the RFM snapshot of this month's end.")
    def kpis_command(month_text: str | None, snapshot: bool) -> None:
        """Compute the KPIs and the customer-care index of one month for every branch."""
        from ..errors import MonitorError
        from ..months import parse_month
        from .jobs import run_kpis

        try:
            month = parse_month(month_text)
        except MonitorError as exc:
            raise click.BadParameter("; ".join(str(v) for v in exc.errors.values()), param_hint="--month") from None
        result = run_kpis([month], snapshot=month if snapshot else None)
        click.echo(f"{month_text or month.isoformat()[:7]}: {result['rows']} KPI rows written")
