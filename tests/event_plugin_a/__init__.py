"""Test add-on A for the events service: reacts to every core event by writing an audit row, holds
personal data of its own (``eva_contact``: the personal-data hook pair) and contributes tabs and
actions to the org pages. Loaded only by the tests that name it."""

from portal.toolkit import PluginInfo

PLUGIN = PluginInfo(name="eva", title="Event add-on A", version="1.0.0",
                    description="Reacts to events; holds personal data.", table_prefix="eva_")
