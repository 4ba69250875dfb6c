"""Test add-on B for the events service: reacts to the same events as A and fails on demand
(``hooks.FAIL``), half-way through its own writes. Loaded only by the tests that name it."""

from portal.toolkit import PluginInfo

PLUGIN = PluginInfo(name="evb", title="Event add-on B", version="1.0.0",
                    description="Reacts to events; raises on demand.")
