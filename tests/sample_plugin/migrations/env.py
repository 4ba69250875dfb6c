from alembic import context

from portal.toolkit import run_plugin_env

run_plugin_env(context, plugin_name="sample", table_prefix="smp_")
