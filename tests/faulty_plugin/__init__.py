"""A deliberately broken add-on for the tests: malformed menu items, portlets and tabs, and a
``portal_customer_changed`` that raises on demand. Loaded only by the tests that name it."""

from portal.toolkit import PluginInfo

PLUGIN = PluginInfo(name="faulty", title="Faulty add-on", version="1.0.0",
                    description="Contributes malformed items; raises in hooks on demand.")
