from alembic import context

from portal.toolkit import run_plugin_env

run_plugin_env(context, plugin_name="branch_monitor", table_prefix="mon_")
