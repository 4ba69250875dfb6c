from alembic import context

from portal.toolkit import run_plugin_env

run_plugin_env(context, plugin_name="knowledge_share", table_prefix="ks_")
