"""Branch monitoring (issue 18): HQ sees whether every branch files its daily sales report on time
and cares for its customers — report compliance against each branch's opening calendar, a
customer-care index, fair comparison (funnel plots, each branch against its own baseline) and alerts
on state changes only; each branch sees its own scorecard as a mirror.

Built on the core (sales warehouse, analytics scores, contacts, jobs, notifications) through
``portal.toolkit`` only; knowledge_share's overdue action items are read through its hookspec
(optional). See docs/branch_monitor.md."""

from portal.toolkit import PluginInfo


def N_(message: str) -> str:  # noqa: N802 - the gettext "mark for extraction" convention
    """Marks a msgid for extraction; the add-ons page translates it with ``_(title)`` on display."""
    return message


PLUGIN = PluginInfo(
    name="branch_monitor",
    title=N_("Branch monitoring"),
    version="0.1.0",
    description=N_("Daily-report compliance against each branch's opening calendar, KPIs and a customer-care "
                   "index per branch and month, funnel plots and own-baseline checks, alerts on state changes."),
    table_prefix="mon_",
    after=("cem_channels", "prm_groups", "knowledge_share"),
)
