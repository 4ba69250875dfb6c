"""Stories: the content type, its service (create, edit, working copy, workflow), pages and API."""
