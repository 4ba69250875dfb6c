"""User accounts and role grants (services; pages live in portal.manage)."""
