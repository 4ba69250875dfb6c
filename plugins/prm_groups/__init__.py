"""HQ support programmes for distributor groups (issue 16): the weak-category radar, messages in
the top leader's voice approved by that leader, seminar series, and a measured, pre-registered lift.

Built on the core platform (workflow, notifications, jobs, experiments, segments) through
``portal.toolkit`` only; messages go out as ``cem_channels`` campaigns through its hookspecs.
See docs/prm_groups.md."""

from portal.toolkit import PluginInfo


def N_(message: str) -> str:  # noqa: N802 - the gettext "mark for extraction" convention
    """Marks a msgid for extraction; the add-ons page translates it with ``_(title)`` on display."""
    return message


PLUGIN = PluginInfo(
    name="prm_groups",
    title=N_("Group support programmes"),
    version="0.1.0",
    description=N_("Weak-category radar for distributor groups, programmes with messages in the top leader's "
                   "voice approved by that leader, seminar series with check-in, and a measured lift."),
    requires=("cem_channels",),
    table_prefix="prm_",
)
