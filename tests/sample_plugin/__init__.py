"""A small add-on used by the tests: blueprint, own table and migration, menu item, portlet,
permission and CLI command — every extension point a real plugin uses."""

from portal.toolkit import PluginInfo

PLUGIN = PluginInfo(
    name="sample",
    title="Sample notes",
    version="1.0.0",
    description="Notes on customers; exercises the plugin API in tests.",
    table_prefix="smp_",
)
