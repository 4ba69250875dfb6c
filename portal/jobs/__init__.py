"""Background jobs on Huey: tasks and periodic tasks from the core and add-ons, one queue shared by every consumer."""
