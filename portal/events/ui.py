"""UI extension points: tabs on the org-unit, partner-group and partner pages, and action buttons
on an object's page (``portal_object_actions``)."""
